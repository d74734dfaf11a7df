import pytest

from tests.enablement.helpers import Catalogue


@pytest.fixture
def catalogue(db):
    return Catalogue()
