"""Persona fixtures shared by every test module.

Two partner organisations (ours and another) so that every permission test
can check both its own and a foreign organisation's objects.

Sign in with ``client.force_login(user)`` or by posting the login form. The
login lockout refuses ``authenticate()`` without a request, and
``client.login()`` passes none: give it one,
``client.login(request=HttpRequest(), username=..., password=...)``.
"""

import pytest

from partners.models import ManagerProfile, MembershipRole, Region
from partners.roles import ensure_channel_manager_group
from tests import database_template
from tests.factories import DistributorFactory, MembershipFactory, PartnerFactory, UserFactory
from tests.programs.helpers import Definitions, program_manager

# Tests between two fuzzing runs in the order of collection (see below).
FUZZ_SPACING = 3


def _transactional(item) -> bool:
    """Whether pytest-django runs ``item`` among the tests that commit (and flush after)."""
    marker = item.get_closest_marker("django_db")
    fixtures = getattr(item, "fixturenames", ())
    return bool(marker and marker.kwargs.get("transaction")) or bool(
        {"transactional_db", "live_server"} & set(fixtures)
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """The fuzzing runs (minutes each, where another test takes a second) open the tests that
    commit, which pytest-django runs after the others, and lie apart there. A pytest-xdist worker
    keeps up to three tests queued while it runs one: two fuzzing runs side by side in the order
    go to the same worker, the second waiting for the first, and a run taken last leaves one
    worker finishing it while the other has nothing left to do."""
    fuzz = [item for item in items if item.get_closest_marker("fuzz") is not None]
    if not fuzz:
        return
    others = [item for item in items if item.get_closest_marker("fuzz") is None]
    first = next((n for n, item in enumerate(others) if _transactional(item)), len(others))
    spread = others[:first]
    for n, item in enumerate(fuzz):
        spread.append(item)
        spread.extend(others[first + FUZZ_SPACING * n : first + FUZZ_SPACING * (n + 1)])
    spread.extend(others[first + FUZZ_SPACING * len(fuzz) :])
    items[:] = spread


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, django_db_blocker):
    """On PostgreSQL, this worker's test database is copied from one migrated template
    (see tests/database_template.py)."""
    with django_db_blocker.unblock():
        database_template.clone_test_database()


@pytest.fixture(scope="session")
def django_db_keepdb(request):
    """A database copied from the template is migrated already: Django keeps it as it is."""
    return bool(request.config.getvalue("reuse_db")) or database_template.applies()


@pytest.fixture
def distributor(db):
    return DistributorFactory(name="Northwind")


@pytest.fixture
def partner(db, distributor):
    return PartnerFactory(name="Acme", distributor=distributor)


@pytest.fixture
def other_partner(db):
    return PartnerFactory(name="Globex", country="US", region=Region.NORTH_AMERICA)


@pytest.fixture
def partner_admin(partner):
    return MembershipFactory(partner=partner, role=MembershipRole.ADMIN, user__username="pat").user


@pytest.fixture
def partner_sales(partner):
    return MembershipFactory(partner=partner, role=MembershipRole.SALES, user__username="sally").user


@pytest.fixture
def other_partner_admin(other_partner):
    return MembershipFactory(partner=other_partner, role=MembershipRole.ADMIN, user__username="oscar").user


@pytest.fixture
def distributor_user(distributor):
    return MembershipFactory(
        partner=None, distributor=distributor, role=MembershipRole.DISTRIBUTOR, user__username="dana"
    ).user


@pytest.fixture
def channel_manager(db):
    user = UserFactory(username="morgan", is_staff=True)
    user.groups.add(ensure_channel_manager_group())
    ManagerProfile.objects.create(user=user, regions=[Region.EMEA])
    return user


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    """Tests render templates without running collectstatic first."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache (debounce marks, cached definitions, throttles)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def program_owner(db):
    """A channel manager (EMEA) who manages the MSP program of ``program_definitions``."""
    return program_manager("olivia")


@pytest.fixture
def other_program_manager(db):
    """A channel manager (EMEA) who manages the reseller program of ``program_definitions``."""
    return program_manager("oscar")


@pytest.fixture
def program_definitions(program_owner, other_program_manager):
    return Definitions(program_owner, other_program_manager)
