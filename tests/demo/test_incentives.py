"""seed_demo builds incentives of every kind that earn real figures, reconcile, and stay put on a re-run."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from demo.seed import seed_demo
from incentives.models import IncentivePeriod, LedgerEntry, Payout, Redemption, RuleKind
from incentives.reconcile import reconcile

pytestmark = pytest.mark.django_db


def test_the_demo_earns_under_every_kind_of_rule_and_reconciles(client):
    seed_demo(partners=8)
    entries = LedgerEntry.objects.count()

    kinds = set(LedgerEntry.objects.values_list("rule__kind", flat=True))
    assert kinds == set(RuleKind.values)
    assert LedgerEntry.objects.filter(component="held").exists()  # split payouts awaiting activation
    assert LedgerEntry.objects.filter(entry_type="reversal").exists()  # the cancelled deal
    assert LedgerEntry.objects.filter(state="payable").exists() and Payout.objects.count() == 1
    assert Redemption.objects.count() == 1
    assert IncentivePeriod.objects.filter(closed_at__isnull=False).exists()
    report = reconcile()
    assert report.ok and report.entries == entries and report.total["USD"] > 0

    client.force_login(get_user_model().objects.get(username="partner"))
    statement = client.get(reverse("incentives:index"), follow=True)
    assert statement.status_code == 200 and "<svg" in statement.content.decode()

    seed_demo(partners=8)
    assert LedgerEntry.objects.count() == entries
    assert reconcile().ok
