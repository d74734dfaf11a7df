"""The fuzzer's configuration selects what it says: every operation, the definitions' writes too."""

import json

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig

from tests.api.test_schemathesis import CONFIG

pytestmark = pytest.mark.django_db

DEFINITIONS = (
    "programs",
    "tiers",
    "benefits",
    "segments",
    "exchange-rates",
    "product-lines",
    "certification-types",
    "activity-types",
    "service-offerings",
)


@pytest.fixture(scope="module")
def document(django_db_blocker):
    from drf_spectacular.generators import SchemaGenerator

    with django_db_blocker.unblock():
        return json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True), default=str))


def selected(document) -> set[str]:
    config = SchemathesisConfig.from_str(CONFIG.format(examples=1, deterministic="true", fail_on="[]"))
    schema = schemathesis.openapi.from_dict(document, config=config)
    return {f"{result.ok().method.upper()} {result.ok().path}" for result in schema.get_all_operations()}


def every_operation(document) -> set[str]:
    return {f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item}


def is_definition_write(name: str) -> bool:
    """A create, replace, change or delete of a definition (its versions' commands aside)."""
    method, path = name.split(" ", 1)
    parts = path.split("/")
    return method != "GET" and parts[3] in DEFINITIONS and parts[4:] in ([""], ["{id}", ""])


def test_the_run_reaches_every_operation_the_definitions_writes_included(document):
    reached = selected(document)

    assert reached == every_operation(document)
    writes = {name for name in reached if is_definition_write(name)}
    # Create, replace, change and delete of each of the nine definitions.
    assert len(writes) == 4 * len(DEFINITIONS)
    assert {"POST /api/v1/deals/", "POST /api/v1/deals/{id}/approve/", "PATCH /api/v1/gates/{id}/"} <= reached
    assert {
        "POST /api/v1/programs/",
        "DELETE /api/v1/tiers/{id}/",
        "PUT /api/v1/product-lines/{id}/",
    } <= reached
