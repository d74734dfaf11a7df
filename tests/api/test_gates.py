"""Gate management through the API, what-if simulation, re-evaluation and gate progress."""

import datetime
from unittest import mock

import pytest

from api import selectors
from api.models import TokenScope
from core.models import AuditEntry
from gates import tasks as gate_tasks
from gates.models import EvaluationRun, Gate, GateState, GateStatus
from partners.models import Partner
from tests.factories import PartnerFactory, TierFactory

pytestmark = pytest.mark.django_db

GATES = "/api/v1/gates/"


def gate_body(world, **overrides):
    body = {
        "program": world.program.pk,
        "name": "Gold gate",
        "state": "active",
        "criteria": {
            "all": [
                {
                    "metric": "certified_people",
                    "certification_types": ["sales-engineer"],
                    "op": ">=",
                    "target": 3,
                },
                {
                    "metric": "sales_amount",
                    "window": {"kind": "quarter_to_date"},
                    "op": ">=",
                    "target": "500000",
                },
            ]
        },
        "unlocks_tier": world.gold.pk,
        "unlocks_benefits": [world.discount.pk],
        "prerequisites": [world.silver_gate.pk],
    }
    body.update(overrides)
    return body


@pytest.fixture
def manager(client_for, channel_manager):
    return client_for(channel_manager)


class TestCreateAndUpdate:
    def test_a_manager_creates_a_gate_and_its_partners_are_reevaluated_after_commit(
        self, manager, world, channel_manager, django_capture_on_commit_callbacks, settings
    ):
        with (
            mock.patch("gates.tasks.evaluate_all_gates.apply_async") as full_run,
            django_capture_on_commit_callbacks(execute=True),
        ):
            response = manager.post(GATES, gate_body(world), format="json")

        assert response.status_code == 201, response.content
        gate = Gate.objects.get(name="Gold gate")
        assert response.json()["id"] == gate.pk
        assert (gate.state, gate.unlocks_tier, gate.version) == (GateState.ACTIVE, world.gold, 1)
        assert list(gate.prerequisites.all()) == [world.silver_gate]
        assert list(gate.unlocks_benefits.all()) == [world.discount]
        assert AuditEntry.objects.get(action="gate.created").actor == channel_manager
        full_run.assert_called_once_with(countdown=settings.PRM_DEFINITION_DEBOUNCE_SECONDS)

    def test_criteria_errors_name_their_place_in_the_tree(self, manager, world):
        criteria = {
            "all": [
                {"metric": "certified_people", "op": ">=", "target": "five"},
                {"metric": "nope", "op": ">=", "target": 1},
                {"metric": "certified_people", "op": ">=", "target": 1, "colour": "red"},
            ]
        }

        response = manager.post(GATES, gate_body(world, criteria=criteria), format="json")

        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "invalid"
        messages = body["errors"]["criteria"]
        assert "criteria.all[0].target: expected a whole number." in messages
        assert any(m.startswith("criteria.all[1].metric: unknown metric 'nope'") for m in messages)
        assert "criteria.all[2]: unknown field(s) colour for metric certified_people." in messages
        assert body["detail"] == "criteria: criteria.all[0].target: expected a whole number."
        assert not Gate.objects.filter(name="Gold gate").exists()

    def test_codes_in_the_criteria_must_exist(self, manager, world):
        criteria = {
            "any": [{"metric": "sales_amount", "op": ">=", "target": "10", "product_lines": ["mainframes"]}]
        }

        response = manager.post(GATES, gate_body(world, criteria=criteria), format="json")

        assert response.json()["errors"] == {
            "criteria": ["criteria.any[0].product_lines: no product line has the code 'mainframes'."]
        }

    @pytest.mark.parametrize(
        ("overrides", "field", "message"),
        [
            (
                {"effective_from": "2026-06-01", "effective_to": "2026-01-01"},
                "effective_to",
                "The gate ends before it starts.",
            ),
            (
                {"criteria": "five people"},
                "criteria",
                "criteria: expected an object with all, any, not or metric.",
            ),
            ({"currency": "ABC"}, "currency", '"ABC" is not a valid choice.'),
            ({"state": "retired"}, "state", "Retire a gate with its retire action."),
            ({"program": 10**6}, "program", 'Invalid pk "1000000" - object does not exist.'),
        ],
    )
    def test_invalid_gates_are_refused_with_the_field_named(self, manager, world, overrides, field, message):
        response = manager.post(GATES, gate_body(world, **overrides), format="json")

        assert response.status_code == 400
        assert message in response.json()["errors"][field]

    def test_a_tier_of_another_program_is_refused(self, manager, world):
        response = manager.post(GATES, gate_body(world, unlocks_tier=world.specialist_tier.pk), format="json")

        assert response.json()["errors"] == {"unlocks_tier": ["The tier belongs to another program."]}

    def test_a_second_active_gate_for_a_tier_conflicts(self, manager, world):
        response = manager.post(GATES, gate_body(world, unlocks_tier=world.silver.pk), format="json")

        assert response.status_code == 409
        assert response.json()["errors"] == {
            "unlocks_tier": ["Another active gate already unlocks this tier."]
        }

    def test_a_name_its_program_already_uses_conflicts(self, manager, world):
        response = manager.post(GATES, gate_body(world, name="Silver gate"), format="json")

        assert response.status_code == 409
        assert response.json()["errors"] == {
            "non_field_errors": ["This program already has a gate with this name."]
        }

    def test_prerequisites_may_not_make_a_cycle(self, manager, world):
        gold = manager.post(GATES, gate_body(world), format="json").json()

        response = manager.patch(
            f"{GATES}{world.silver_gate.pk}/", {"prerequisites": [gold["id"]]}, format="json"
        )

        assert response.status_code == 400
        assert response.json()["errors"]["prerequisites"] == [
            "These prerequisites make a cycle: Silver gate → Gold gate → Silver gate."
        ]
        own = manager.patch(f"{GATES}{gold['id']}/", {"prerequisites": [gold["id"]]}, format="json")
        assert own.json()["errors"]["prerequisites"] == ["A gate cannot be its own prerequisite."]

    def test_new_criteria_on_an_active_gate_go_through_a_published_draft(self, manager, world):
        url = f"{GATES}{world.silver_gate.pk}/"
        tighter = {"metric": "certified_people", "op": ">=", "target": 2}

        renamed = manager.patch(url, {"description": "The entry tier"}, format="json")
        in_place = manager.patch(url, {"criteria": tighter}, format="json")
        assert renamed.status_code == 200 and renamed.json()["version"] == 1
        # The gate's state refuses the change, not the body: a conflict, as HTTP has it.
        assert (in_place.status_code, in_place.json()["code"]) == (409, "conflict")
        assert "draft" in in_place.json()["errors"]["criteria"][0]

        bad = manager.post(f"{url}draft/", {"criteria": {"metric": "nope"}}, format="json")
        assert bad.status_code == 400 and bad.json()["errors"]["criteria"]
        draft = manager.post(f"{url}draft/", {"criteria": tighter}, format="json")
        assert draft.status_code == 200, draft.content
        assert (draft.json()["version"], draft.json()["state"]) == (2, "draft")
        assert manager.get(url).json()["version"] == 1

        diff = manager.get(f"{url}diff/")
        assert diff.status_code == 200, diff.content
        assert (diff.json()["before"]["version"], diff.json()["after"]["version"]) == (1, 2)
        after = diff.json()["after"]
        assert after["description"][0].startswith("criteria: at least 2 ")
        assert after["rule"].startswith("At least 2 ") and after["rule"].endswith(".")
        assert manager.get(url).json()["rule"] == diff.json()["before"]["rule"]
        assert "won sales" in diff.json()["before"]["rule"] and "won sales" not in after["rule"]
        unknown = manager.get(f"{url}diff/?before=9")
        assert unknown.status_code == 404 and "no such version" in unknown.json()["detail"]
        malformed = manager.get(f"{url}diff/?before=two")
        assert malformed.status_code == 400 and malformed.json()["errors"]["before"]

        past = manager.post(f"{url}publish/", {"effective_from": "2000-01-01"}, format="json")
        assert past.status_code == 400 and past.json()["errors"]["effective_from"]
        published = manager.post(f"{url}publish/", {}, format="json")
        assert published.status_code == 200 and published.json()["state"] == "current"
        assert manager.get(url).json()["version"] == 2
        versions = manager.get(f"{url}versions/").json()
        assert [(v["version"], v["state"]) for v in versions] == [(2, "current"), (1, "superseded")]
        assert AuditEntry.objects.filter(action="gate.version_published").count() == 1

    def test_a_full_replacement(self, manager, world):
        body = gate_body(
            world,
            name="Silver gate",
            unlocks_tier=world.silver.pk,
            prerequisites=[],
            criteria=world.silver_gate.criteria,  # an active gate's criteria change by a published draft
        )

        response = manager.put(f"{GATES}{world.silver_gate.pk}/", body, format="json")

        assert response.status_code == 200, response.content
        world.silver_gate.refresh_from_db()
        assert world.silver_gate.criteria == body["criteria"]

    def test_retiring_is_idempotent(self, manager, world, django_capture_on_commit_callbacks):
        url = f"{GATES}{world.silver_gate.pk}/retire/"
        with (
            mock.patch("gates.tasks.evaluate_all_gates.apply_async"),
            django_capture_on_commit_callbacks(execute=True),
        ):
            first = manager.post(url)
            second = manager.post(url)

        assert first.status_code == second.status_code == 200
        assert first.json()["state"] == "retired"
        assert AuditEntry.objects.filter(action="gate.retired").count() == 1

    def test_partners_may_not_manage_gates(self, client_for, partner_admin, world):
        client = client_for(partner_admin)

        assert client.post(GATES, gate_body(world), format="json").status_code == 403
        assert client.post(f"{GATES}{world.silver_gate.pk}/retire/").status_code == 403

    def test_a_token_for_some_partners_may_not_manage_gates(
        self, superuser, issue_token, token_client, world
    ):
        _, secret = issue_token(superuser, all_partners=False, partners=[world.acme])

        response = token_client(secret).post(GATES, gate_body(world), format="json")

        assert response.status_code == 403
        assert "covers some partners only" in response.json()["detail"]

    def test_a_read_only_token_may_not_manage_gates(self, channel_manager, issue_token, token_client, world):
        _, secret = issue_token(channel_manager, scope=TokenScope.READ)

        assert token_client(secret).post(GATES, gate_body(world), format="json").status_code == 403

    def test_partners_see_only_active_gates_of_programs_open_to_them(
        self, client_for, partner_admin, other_partner_admin, world
    ):
        acme = [g["name"] for g in client_for(partner_admin).get(GATES).json()["results"]]
        globex = [g["name"] for g in client_for(other_partner_admin).get(GATES).json()["results"]]

        assert acme == ["Silver gate", "Specialist gate"]
        assert globex == ["Silver gate"]
        hidden = client_for(other_partner_admin).get(f"{GATES}{world.specialist_gate.pk}/")
        assert hidden.status_code == 404


class TestSimulation:
    URL = f"{GATES}simulate/"

    def test_what_if_writes_nothing(self, manager, world):
        statuses = list(GateStatus.objects.values_list("id", "status", "updated_at"))
        runs = EvaluationRun.objects.count()

        response = manager.post(
            self.URL,
            {
                "gate": world.silver_gate.pk,
                "criteria": {"metric": "certified_people", "op": ">=", "target": 2},
            },
            format="json",
        )

        assert response.status_code == 200, response.content
        # Globex fails too, but it is outside the manager's coverage: it is neither counted nor named.
        assert response.json() == {
            "evaluated": 1,
            "would_pass": 0,
            "passing_now": 1,
            "newly_pass": 0,
            "newly_fail": 1,
            "criteria": [
                {
                    "path": "criteria",
                    "description": "at least 2 people holding a valid certification",
                    "partners_passing": 0,
                }
            ],
            "newly_pass_examples": [],
            "newly_fail_examples": ["Acme"],
        }
        assert list(GateStatus.objects.values_list("id", "status", "updated_at")) == statuses
        assert EvaluationRun.objects.count() == runs

    def test_counts_cover_only_the_partners_the_caller_sees(self, client_for, manager, superuser, world):
        body = {
            "gate": world.silver_gate.pk,
            "criteria": {"metric": "certified_people", "op": ">=", "target": 1},
        }
        covered = manager.post(self.URL, body, format="json").json()
        everyone = client_for(superuser).post(self.URL, body, format="json").json()

        assert (covered["evaluated"], covered["would_pass"], covered["passing_now"]) == (1, 1, 1)
        assert covered["criteria"][0]["partners_passing"] == 1
        assert (everyone["evaluated"], everyone["would_pass"], everyone["passing_now"]) == (2, 2, 2)
        assert everyone["criteria"][0]["partners_passing"] == 2

    def test_a_draft_takes_its_program_currency(self, manager, world):
        criteria = {"metric": "sales_amount", "window": {"kind": "all_time"}, "op": ">=", "target": "900"}

        response = manager.post(self.URL, {"program": world.program.pk, "criteria": criteria}, format="json")

        # Both partners sold 1,000 USD; the manager covers Acme only.
        assert response.json()["would_pass"] == 1
        assert response.json()["newly_pass"] == 1

    def test_invalid_criteria_are_named(self, manager, world):
        response = manager.post(
            self.URL, {"program": world.program.pk, "criteria": {"metric": "nope"}}, format="json"
        )

        assert response.status_code == 400
        assert response.json()["errors"]["criteria"][0].startswith("criteria.metric: unknown metric 'nope'")

    def test_something_to_simulate_is_needed(self, manager, world):
        assert manager.post(self.URL, {}, format="json").json()["errors"] == {
            "criteria": ["Send criteria, or a gate to simulate."]
        }
        no_currency = manager.post(
            self.URL, {"criteria": {"metric": "certified_people", "op": ">=", "target": 1}}
        )
        assert no_currency.json()["errors"] == {"currency": ["Send a currency, a program or a gate."]}


class TestEvaluations:
    URL = "/api/v1/evaluations/"

    def test_a_run_shows_its_progress_and_the_link_finds_it(
        self, manager, world, django_capture_on_commit_callbacks, settings
    ):
        settings.PRM_EVALUATION_CHUNK_SIZE = 1
        before = EvaluationRun.objects.count()
        with django_capture_on_commit_callbacks(execute=True):
            response = manager.post(self.URL, {"all": True}, format="json")
        assert response["Location"] == response.json()["location"]
        run = manager.get(response["Location"]).json()
        assert run["id"] == response.json()["run"]
        assert run["kind"] == "full" and run["state"] == "done"
        assert run["chunks_total"] == run["chunks_done"] == Partner.objects.count() > 1
        assert run["partners_evaluated"] == run["partners_total"] == Partner.objects.count()
        assert run["started_at"] and run["finished_at"]
        assert EvaluationRun.objects.count() == before + 1  # the queued run is the run, not another

    def test_a_partner_run_is_queued_then_carried_out(
        self, manager, world, django_capture_on_commit_callbacks
    ):
        before = EvaluationRun.objects.count()
        with mock.patch("gates.tasks.evaluate_partner_task.delay") as queued:
            with django_capture_on_commit_callbacks(execute=True):
                response = manager.post(self.URL, {"partner": world.acme.pk}, format="json")
            run = manager.get(response["Location"]).json()
            assert (run["state"], run["partner"], run["partners_total"]) == ("queued", world.acme.pk, 1)
            assert run["finished_at"] is None

        gate_tasks.evaluate_partner_task(*queued.call_args.args)

        run = manager.get(response["Location"]).json()
        assert (run["state"], run["partners_evaluated"], run["partners_total"]) == ("done", 1, 1)
        assert run["finished_at"] is not None
        assert EvaluationRun.objects.count() == before + 1

    def test_runs_of_partners_out_of_sight_are_out_of_sight(self, client_for, channel_manager, world):
        seen = EvaluationRun.objects.create(kind="partner", as_of=datetime.date.today(), partner=world.acme)
        unseen = EvaluationRun.objects.create(
            kind="partner", as_of=datetime.date.today(), partner=world.globex
        )
        client = client_for(channel_manager)  # covers EMEA: Acme, not Globex
        listed = {run["id"] for run in client.get("/api/v1/evaluation-runs/?kind=partner").json()["results"]}
        assert seen.pk in listed and unseen.pk not in listed
        assert client.get(f"/api/v1/evaluation-runs/{unseen.pk}/").status_code == 404

    def test_queue_one_partner(self, manager, world, django_capture_on_commit_callbacks):
        with (
            mock.patch("gates.tasks.evaluate_partner_task.delay") as queued,
            django_capture_on_commit_callbacks(execute=True),
        ):
            response = manager.post(self.URL, {"partner": world.acme.pk}, format="json")

        assert response.status_code == 202
        run = EvaluationRun.objects.latest("id")
        location = f"http://testserver/api/v1/evaluation-runs/{run.pk}/"
        assert response.json() == {
            "queued": "partner",
            "partner": world.acme.pk,
            "run": run.pk,
            "location": location,
        }
        assert response["Location"] == location
        assert (run.state, run.kind, run.partner_id) == ("queued", "partner", world.acme.pk)
        queued.assert_called_once_with(world.acme.pk, run.pk)

    def test_queue_everyone(self, manager, world, django_capture_on_commit_callbacks, settings):
        with (
            mock.patch("gates.tasks.evaluate_all_gates.apply_async") as queued,
            django_capture_on_commit_callbacks(execute=True),
        ):
            response = manager.post(self.URL, {"all": True}, format="json")
            # A second request while the first run is pending joins it.
            again = manager.post(self.URL, {"all": True}, format="json")

        assert response.status_code == again.status_code == 202
        run = EvaluationRun.objects.get(state="queued")
        location = f"http://testserver/api/v1/evaluation-runs/{run.pk}/"
        assert (
            response.json()
            == again.json()
            == {
                "queued": "all",
                "partner": None,
                "run": run.pk,
                "location": location,
            }
        )
        assert response["Location"] == again["Location"] == location
        assert (run.state, run.kind) == ("queued", "full")
        queued.assert_called_once_with(countdown=settings.PRM_DEFINITION_DEBOUNCE_SECONDS)

    def test_a_partner_the_manager_does_not_cover_is_unknown(self, manager, world):
        response = manager.post(self.URL, {"partner": world.globex.pk}, format="json")

        assert response.status_code == 400
        assert response.json()["errors"] == {"partner": ["No partner with this id among those you can see."]}

    @pytest.mark.parametrize("body", [{}, {"partner": 1, "all": True}, {"all": False}])
    def test_one_or_all(self, manager, world, body):
        response = manager.post(self.URL, body, format="json")

        assert response.json()["errors"] == {
            "non_field_errors": ["Send either a partner or all: true, not both or neither."]
        }


class TestGateProgress:
    URL = "/api/v1/gate-statuses/"

    def test_progress_criterion_by_criterion(self, client_for, partner_admin, world):
        response = client_for(partner_admin).get(self.URL, {"gate": world.silver_gate.pk})

        [status] = response.json()["results"]
        assert status | {"criteria": None, "since": None, "updated_at": None} == {
            "id": world.of("acme", "gate_status").pk,
            "partner": world.acme.pk,
            "gate": world.silver_gate.pk,
            "gate_name": "Silver gate",
            "program": world.program.pk,
            "status": "passed",
            "since": None,
            "updated_at": None,
            "up_to_date": True,
            "met": 2,
            "total": 2,
            "criteria": None,
        }
        people, sales = status["criteria"]
        assert people | {"description": None} == {
            "path": "criteria.all[0]",
            "metric": "certified_people",
            "description": None,
            "value": 1,
            "target": 1,
            "value_display": "1",
            "target_display": "1",
            "passed": True,
            "ratio": 1.0,
            "window": "all time",
            "counts_from": None,
            "period_ends": None,
        }
        assert (sales["value"], sales["target"], sales["value_display"]) == ("1000.00", "500", "1,000.00 USD")

    def test_a_gate_changed_since_the_evaluation_shows_not_up_to_date(
        self, client_for, channel_manager, world
    ):
        Gate.objects.filter(pk=world.silver_gate.pk).update(version=2)

        response = client_for(channel_manager).get(self.URL, {"gate": world.silver_gate.pk})

        [status] = response.json()["results"]
        assert status["up_to_date"] is False
        # The values last measured, until the partner is evaluated again.
        assert [leaf["value"] for leaf in status["criteria"]] == [1, "1000.00"]
        assert status["met"] == 2

    def test_each_gate_is_parsed_once_per_request(self, client_for, superuser, world):
        for n in range(10):
            GateStatus.objects.create(
                partner=PartnerFactory(name=f"Extra {n}"), gate=world.silver_gate, status="failed"
            )

        with mock.patch.object(selectors, "parse", wraps=selectors.parse) as parse:
            response = client_for(superuser).get(self.URL)

        assert len(response.json()["results"]) == 14  # 2 partners x 2 gates, and the 10 extra
        assert parse.call_count == 2  # the silver and the specialist gate

    def test_tier_names_are_loaded_once_for_tier_criteria(self, client_for, superuser, world):
        TierFactory(program=world.specialisation, name="Expert", rank=2)
        Gate.objects.filter(pk=world.specialist_gate.pk).update(
            criteria={"metric": "current_tier", "program": "main", "op": ">=", "target": 1}, version=2
        )

        response = client_for(superuser).get(
            self.URL, {"gate": world.specialist_gate.pk, "partner": world.acme.pk}
        )

        [status] = response.json()["results"]
        assert status["criteria"][0]["target_display"] == "Silver"


class TestEditsReachPartners:
    """A target lowered through the API reaches the partners whose facts did not move."""

    @pytest.fixture
    def services_gate(self, world):
        from gates.services import evaluate
        from tests.factories import ServiceOfferingFactory, ServiceProficiencyFactory

        # Acme holds two offerings (the world's and one more), Globex one.
        ServiceProficiencyFactory(partner=world.acme, offering=ServiceOfferingFactory(code="security"))
        gate = Gate.objects.create(
            program=world.program,
            name="Three services",
            state=GateState.ACTIVE,
            criteria={"metric": "service_offerings", "op": ">=", "target": 3},
        )
        evaluate(notify=False)
        return gate

    def statuses(self, client, gate):
        response = client.get("/api/v1/gate-statuses/", {"gate": gate.pk})
        return {row["partner"]: row for row in response.json()["results"]}

    def lower_target(self, manager, gate):
        drafted = manager.post(
            f"{GATES}{gate.pk}/draft/",
            {"criteria": {"metric": "service_offerings", "op": ">=", "target": 2}},
            format="json",
        )
        assert drafted.status_code == 200, drafted.content
        response = manager.post(f"{GATES}{gate.pk}/publish/", {}, format="json")
        assert response.status_code == 200, response.content
        assert response.json()["version"] == 2

    def test_the_run_the_save_queues_passes_the_partner(
        self, superuser, client_for, world, services_gate, django_capture_on_commit_callbacks
    ):
        client = client_for(superuser)
        with django_capture_on_commit_callbacks(execute=True):  # no broker: the run is in-process
            self.lower_target(client, services_gate)

        rows = self.statuses(client, services_gate)
        acme, globex = rows[world.acme.pk], rows[world.globex.pk]
        assert (acme["status"], acme["up_to_date"], acme["criteria"][0]["value"]) == ("passed", True, 2)
        assert (globex["status"], globex["up_to_date"], globex["criteria"][0]["value"]) == ("failed", True, 1)

    def test_evaluating_everyone_after_the_edit_passes_the_partner(
        self, superuser, client_for, world, services_gate, django_capture_on_commit_callbacks
    ):
        client = client_for(superuser)
        with django_capture_on_commit_callbacks(execute=False):  # the run the save queued is lost
            self.lower_target(client, services_gate)

        # Not decided again yet: the last measured values, not zeros.
        acme = self.statuses(client, services_gate)[world.acme.pk]
        assert (acme["status"], acme["up_to_date"], acme["criteria"][0]["value"]) == ("failed", False, 2)
        assert (acme["met"], acme["total"]) == (1, 1)

        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/api/v1/evaluations/", {"all": True}, format="json")
        assert response.status_code == 202

        acme = self.statuses(client, services_gate)[world.acme.pk]
        assert (acme["status"], acme["up_to_date"], acme["criteria"][0]["value"]) == ("passed", True, 2)
