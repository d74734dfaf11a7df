import pytest

from tests.factories import ProductLineFactory, ProgramFactory, TierFactory


@pytest.fixture
def program(db):
    return ProgramFactory(name="Partner Network", slug="partner-network")


@pytest.fixture
def tiers(program):
    return {
        name: TierFactory(program=program, name=name, rank=rank)
        for rank, name in enumerate(["Registered", "Silver", "Gold", "Platinum"], start=1)
    }


@pytest.fixture
def cloud(db):
    return ProductLineFactory(code="cloud", name="Cloud")


@pytest.fixture
def security(db):
    return ProductLineFactory(code="security", name="Security")
