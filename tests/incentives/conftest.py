import pytest

from tests.factories import ProductLineFactory, ProgramFactory, TierFactory, grant_program_manager


@pytest.fixture
def program(db, channel_manager):
    program = ProgramFactory(name="Partner Network", slug="partner-network")
    # The channel manager owns the program: he writes its incentive rules.
    grant_program_manager(channel_manager, program)
    return program


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
