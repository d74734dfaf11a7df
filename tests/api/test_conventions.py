"""The conventions integrations rely on: ETag and If-Match, If-None-Match, Idempotency-Key."""

import datetime
import json
import threading
from types import SimpleNamespace

import pytest
from django.db import connection
from django.utils import timezone

from api import idempotency
from api.models import IdempotencyKey
from gates.models import Gate
from partners.models import Sale
from tests.api.test_gates import GATES, gate_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(client_for, channel_manager):
    return client_for(channel_manager)


def gate_url(gate) -> str:
    return f"{GATES}{gate.pk}/"


class TestETags:
    def test_a_detail_response_carries_a_tag_that_changes_with_the_object(self, manager, world):
        first = manager.get(gate_url(world.draft_gate))
        again = manager.get(gate_url(world.draft_gate))
        assert first.status_code == 200
        assert first["ETag"].startswith('"') and first["ETag"] == again["ETag"]

        Gate.objects.filter(pk=world.draft_gate.pk).update(name="Renamed in the admin")
        assert manager.get(gate_url(world.draft_gate))["ETag"] != first["ETag"]

    def test_lists_carry_no_tag(self, manager, world):
        assert "ETag" not in manager.get(GATES)

    def test_if_none_match_answers_304_while_the_copy_is_current(self, manager, world):
        tag = manager.get(gate_url(world.draft_gate))["ETag"]
        unchanged = manager.get(gate_url(world.draft_gate), HTTP_IF_NONE_MATCH=tag)
        assert unchanged.status_code == 304 and unchanged.content == b"" and unchanged["ETag"] == tag

        Gate.objects.filter(pk=world.draft_gate.pk).update(name="Renamed")
        changed = manager.get(gate_url(world.draft_gate), HTTP_IF_NONE_MATCH=tag)
        assert changed.status_code == 200 and changed.json()["name"] == "Renamed"

    def test_a_write_with_the_current_tag_succeeds_and_answers_the_new_tag(self, manager, world):
        tag = manager.get(gate_url(world.draft_gate))["ETag"]
        response = manager.patch(gate_url(world.draft_gate), {"name": "Gold, renamed"}, HTTP_IF_MATCH=tag)
        assert response.status_code == 200, response.json()
        assert response["ETag"] != tag
        assert response["ETag"] == manager.get(gate_url(world.draft_gate))["ETag"]

    def test_a_stale_write_answers_412_and_keeps_the_other_change(self, manager, world):
        tag = manager.get(gate_url(world.draft_gate))["ETag"]
        Gate.objects.filter(pk=world.draft_gate.pk).update(name="Changed by a colleague")

        response = manager.patch(gate_url(world.draft_gate), {"name": "Mine"}, HTTP_IF_MATCH=tag)

        assert response.status_code == 412
        assert response.json()["code"] == "precondition_failed"
        assert Gate.objects.get(pk=world.draft_gate.pk).name == "Changed by a colleague"

    def test_a_stale_put_is_refused_as_well(self, manager, world):
        body = gate_body(world, name="Replaced", unlocks_tier=None, prerequisites=[], unlocks_benefits=[])
        response = manager.put(gate_url(world.draft_gate), body, format="json", HTTP_IF_MATCH='"stale"')
        assert response.status_code == 412
        assert Gate.objects.get(pk=world.draft_gate.pk).name == world.draft_gate.name

    def test_a_star_matches_any_current_version(self, manager, world):
        response = manager.patch(gate_url(world.draft_gate), {"name": "Any"}, HTTP_IF_MATCH="*")
        assert response.status_code == 200

    def test_a_stale_delete_answers_412_and_deletes_nothing(self, manager, world):
        sale = world.facts["acme"]["sale"]
        url = f"/api/v1/sales/{sale.pk}/"
        tag = manager.get(url)["ETag"]
        Sale.objects.filter(pk=sale.pk).update(customer_name="Corrected meanwhile")

        assert manager.delete(url, HTTP_IF_MATCH=tag).status_code == 412
        assert Sale.objects.filter(pk=sale.pk).exists()

        fresh = manager.get(url)["ETag"]
        assert manager.delete(url, HTTP_IF_MATCH=fresh).status_code == 204
        assert not Sale.objects.filter(pk=sale.pk).exists()

    def test_without_if_match_a_write_goes_through_as_before(self, manager, world):
        assert manager.patch(gate_url(world.draft_gate), {"name": "Unconditional"}).status_code == 200

    def test_a_hidden_object_is_a_404_whatever_the_tag(
        self, token_client, issue_token, channel_manager, world
    ):
        _, secret = issue_token(channel_manager, all_partners=False, partners=[world.acme])
        other = world.facts["globex"]["sale"]
        response = token_client(secret).delete(f"/api/v1/sales/{other.pk}/", HTTP_IF_MATCH="*")
        assert response.status_code == 404
        assert Sale.objects.filter(pk=other.pk).exists()


class TestTwoWriters:
    @pytest.mark.django_db(transaction=True)
    def test_of_two_writers_with_the_same_tag_exactly_one_wins(self, client_for, channel_manager, world):
        tag = client_for(channel_manager).get(gate_url(world.draft_gate))["ETag"]
        statuses: list[int] = []
        start = threading.Barrier(2)

        def write(name):
            try:
                start.wait()
                response = client_for(channel_manager).patch(
                    gate_url(world.draft_gate), {"name": name}, HTTP_IF_MATCH=tag
                )
                statuses.append(response.status_code)
            finally:
                connection.close()

        threads = [threading.Thread(target=write, args=(name,)) for name in ("First", "Second")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert sorted(statuses) == [200, 412]
        assert Gate.objects.get(pk=world.draft_gate.pk).name in ("First", "Second")


class TestIdempotencyKeys:
    def test_the_same_post_sent_twice_acts_once_and_replays_the_answer(self, manager, world):
        body = gate_body(world)
        first = manager.post(GATES, body, format="json", HTTP_IDEMPOTENCY_KEY="create-gold-1")
        second = manager.post(GATES, body, format="json", HTTP_IDEMPOTENCY_KEY="create-gold-1")

        assert first.status_code == 201 and second.status_code == 201
        assert second.json() == first.json()
        assert second["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
        assert Gate.objects.filter(name="Gold gate").count() == 1

    def test_key_order_and_spacing_of_the_json_do_not_matter(self, manager, world):
        body = gate_body(world)
        reordered = dict(reversed(list(body.items())))
        manager.post(GATES, body, format="json", HTTP_IDEMPOTENCY_KEY="k")
        again = manager.post(GATES, reordered, format="json", HTTP_IDEMPOTENCY_KEY="k")
        assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"

    def test_the_same_key_with_another_body_answers_422(self, manager, world):
        manager.post(GATES, gate_body(world), format="json", HTTP_IDEMPOTENCY_KEY="k")
        response = manager.post(
            GATES, gate_body(world, name="Platinum gate"), format="json", HTTP_IDEMPOTENCY_KEY="k"
        )
        assert response.status_code == 422
        assert response.json()["code"] == "idempotency_key_reused"
        assert not Gate.objects.filter(name="Platinum gate").exists()

    def test_the_same_key_on_another_path_answers_422(self, manager, world, partner):
        manager.post(GATES, gate_body(world), format="json", HTTP_IDEMPOTENCY_KEY="k")
        response = manager.post(
            "/api/v1/evaluations/", {"partner": partner.pk}, format="json", HTTP_IDEMPOTENCY_KEY="k"
        )
        assert response.status_code == 422

    def test_without_a_key_every_post_acts(self, manager, world):
        manager.post(GATES, gate_body(world), format="json")
        second = manager.post(GATES, gate_body(world), format="json")
        assert second.status_code == 409  # the name is taken: the second POST did act

    def test_keys_belong_to_their_caller(self, client_for, manager, world, program_owner):
        manager.post(GATES, gate_body(world), format="json", HTTP_IDEMPOTENCY_KEY="shared")
        other = client_for(program_owner).post(
            GATES, gate_body(world, name="Theirs"), format="json", HTTP_IDEMPOTENCY_KEY="shared"
        )
        assert other.status_code != 422 and "Idempotent-Replayed" not in other

    def test_a_refusal_that_may_change_releases_the_key(self, manager, world):
        body = gate_body(world, unlocks_tier=None)
        manager.post(GATES, body, format="json")  # takes the name
        refused = manager.post(GATES, body, format="json", HTTP_IDEMPOTENCY_KEY="retry-me")
        assert refused.status_code == 409
        Gate.objects.filter(name="Gold gate").update(name="Gold gate, old")

        retried = manager.post(GATES, body, format="json", HTTP_IDEMPOTENCY_KEY="retry-me")
        assert retried.status_code == 201 and "Idempotent-Replayed" not in retried

    def test_an_invalid_request_is_replayed_as_invalid(self, manager, world):
        bad = gate_body(world, criteria={"metric": "no_such_metric"})
        first = manager.post(GATES, bad, format="json", HTTP_IDEMPOTENCY_KEY="bad")
        second = manager.post(GATES, bad, format="json", HTTP_IDEMPOTENCY_KEY="bad")
        assert first.status_code == second.status_code == 400
        assert second.json() == first.json() and second["Idempotent-Replayed"] == "true"

    def test_a_request_still_being_answered_answers_409(self, manager, channel_manager, world):
        IdempotencyKey.objects.create(
            owner=f"user:{channel_manager.pk}",
            key="busy",
            user=channel_manager,
            method="POST",
            path=GATES,
            fingerprint=idempotency.fingerprint(SimpleNamespace(body=json.dumps(gate_body(world)).encode())),
        )
        response = manager.post(GATES, gate_body(world), format="json", HTTP_IDEMPOTENCY_KEY="busy")
        assert response.status_code == 409
        assert response.json()["code"] == "idempotency_key_in_progress"

    def test_a_malformed_key_is_a_400_naming_the_header(self, manager, world):
        response = manager.post(GATES, gate_body(world), format="json", HTTP_IDEMPOTENCY_KEY="has space")
        assert response.status_code == 400
        assert "Idempotency-Key" in response.json()["errors"]
        assert not Gate.objects.filter(name="Gold gate").exists()

    def test_a_command_replays_its_location(self, manager, world, partner):
        first = manager.post(
            "/api/v1/evaluations/", {"partner": partner.pk}, format="json", HTTP_IDEMPOTENCY_KEY="run"
        )
        second = manager.post(
            "/api/v1/evaluations/", {"partner": partner.pk}, format="json", HTTP_IDEMPOTENCY_KEY="run"
        )
        assert first.status_code == second.status_code == 202
        assert second["Location"] == first["Location"] and second.json() == first.json()

    def test_a_token_key_replays_for_the_token(
        self, token_client, issue_token, channel_manager, world, partner
    ):
        _, secret = issue_token(channel_manager)
        client = token_client(secret)
        record = {
            "external_id": "s-idem",
            "partner": partner.pk,
            "amount": "10.00",
            "currency": "USD",
            "product_line": "cloud",
            "closed_on": (timezone.localdate() - datetime.timedelta(days=1)).isoformat(),
            "customer_name": "Initech",
        }
        body = {"source": "crm", "records": [record]}
        first = client.post("/api/v1/sales/bulk/", body, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
        second = client.post("/api/v1/sales/bulk/", body, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
        assert first.status_code == 200, first.json()
        assert second.json() == first.json() and second["Idempotent-Replayed"] == "true"
        assert Sale.objects.filter(external_id="s-idem").count() == 1

    def test_keys_older_than_the_hours_are_purged_and_may_be_used_again(self, manager, world, settings):
        manager.post(GATES, gate_body(world), format="json", HTTP_IDEMPOTENCY_KEY="old")
        later = timezone.now() + datetime.timedelta(hours=settings.PRM_IDEMPOTENCY_KEY_HOURS, minutes=1)
        assert idempotency.purge(now=later) == 1
        assert not IdempotencyKey.objects.exists()

    def test_an_expired_key_is_not_replayed(self, manager, world):
        manager.post(GATES, gate_body(world), format="json", HTTP_IDEMPOTENCY_KEY="stale")
        IdempotencyKey.objects.update(created_at=timezone.now() - datetime.timedelta(days=2))
        response = manager.post(
            GATES,
            gate_body(world, name="Another", unlocks_tier=None),
            format="json",
            HTTP_IDEMPOTENCY_KEY="stale",
        )
        assert response.status_code == 201 and "Idempotent-Replayed" not in response


class TestIncrementalSync:
    def test_updated_since_lists_only_what_changed_at_or_after_the_moment(self, manager, world):
        cut = timezone.now()
        acme_sale = world.facts["acme"]["sale"]
        Sale.objects.filter(pk=acme_sale.pk).update(updated_at=cut + datetime.timedelta(seconds=1))
        Sale.objects.exclude(pk=acme_sale.pk).update(updated_at=cut - datetime.timedelta(days=1))

        response = manager.get("/api/v1/sales/", {"updated_since": cut.isoformat()})

        assert response.status_code == 200
        assert [row["id"] for row in response.json()["results"]] == [acme_sale.pk]

    def test_history_takes_updated_since(self, client_for, superuser, world):
        client = client_for(superuser)
        everything = client.get("/api/v1/history/").json()["count"]
        later = (timezone.now() + datetime.timedelta(days=1)).isoformat()
        assert everything > 0
        assert client.get("/api/v1/history/", {"updated_since": later}).json()["count"] == 0

    def test_a_malformed_moment_is_a_400_naming_the_parameter(self, client_for, superuser, world):
        response = client_for(superuser).get("/api/v1/history/", {"updated_since": "yesterday"})
        assert response.status_code == 400 and "updated_since" in response.json()["errors"]
