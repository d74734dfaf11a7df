import pytest
from django.contrib.auth.models import Permission

from tests.factories import UserFactory


@pytest.fixture
def auditor(db):
    """A staff member allowed to read the whole history, without being a superuser."""
    user = UserFactory(username="audrey", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="pghistory", codename="view_context")
    )
    return user
