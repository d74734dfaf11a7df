"""Rule validation with clear messages, effective dates, and versions that never rewrite the past."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from incentives import services
from incentives.models import IncentiveRule, LedgerEntry, MarginRate, RuleKind
from incentives.validation import BandInput, band_problems, percent_problem
from tests.factories import TierFactory
from tests.incentives.helpers import commission_rule, margin_rule, set_tier, won_deal

TODAY = datetime.date.today()


def band(lower, upper, percent="1"):
    return BandInput(Decimal(lower), Decimal(upper) if upper is not None else None, Decimal(percent))


def test_bands_that_meet_are_fine_and_gaps_are_allowed():
    assert band_problems([band("0", "100"), band("100", "200"), band("300", None)]) == []


@pytest.mark.parametrize(
    ("bands", "message"),
    [
        ([band("0", "150"), band("100", "200")], "The bands 0–150 and 100–200 overlap"),
        ([band("0", None), band("100", "200")], "only the highest band may be open-ended"),
        ([band("100", "200"), band("100", "300")], "The bands 100–200 and 100–300 overlap"),
        ([band("100", "50")], "its upper bound must be above its lower bound"),
        ([band("-5", "50")], "A band cannot start below zero"),
        ([band("0", "50", "120")], "cannot be above 100 %: 120 % was given"),
        ([band("0", "50", "-1")], "cannot be negative: -1 % was given"),
    ],
)
def test_band_mistakes_are_refused_with_a_clear_message(bands, message):
    problems = band_problems(bands)
    assert len(problems) == 1 and message in problems[0]


def test_percentages_between_0_and_100():
    assert percent_problem(Decimal(0)) is None and percent_problem(Decimal(100)) is None
    assert percent_problem(Decimal("100.001")) == "A rate cannot be above 100 %: 100.001 % was given."


def errors_of(instance) -> dict:
    with pytest.raises(ValidationError) as caught:
        instance.full_clean()
    return caught.value.message_dict


@pytest.mark.django_db
class TestRuleValidation:
    def rule(self, program, **values):
        fields = {
            "name": "Rule",
            "kind": RuleKind.COMMISSION,
            "program": program,
            "currency": "USD",
            "effective_from": TODAY,
        }
        fields.update(values)
        return IncentiveRule(**fields)

    def test_a_rule_without_currency_is_refused(self, program):
        assert errors_of(self.rule(program, currency="")) == {
            "currency": [
                "Choose the currency this rule pays in: every amount it produces is in that currency."
            ]
        }

    def test_negative_amounts_are_refused(self, program):
        errors = errors_of(
            self.rule(
                program,
                kind=RuleKind.SPIF,
                spif_trigger="deal",
                spif_amount=Decimal("-5"),
                budget=Decimal("-1"),
                effective_to=TODAY,
            )
        )
        assert errors["spif_amount"] == ["The bonus cannot be negative: -5 was given."]
        assert errors["budget"] == ["The budget cannot be negative: -1 was given."]

    def test_a_spif_is_time_boxed(self, program):
        errors = errors_of(
            self.rule(program, kind=RuleKind.SPIF, spif_trigger="deal", spif_amount=Decimal(5))
        )
        assert errors == {"effective_to": ["A SPIF is time-boxed: give the last day it runs."]}

    def test_a_split_payout_needs_an_activation_window(self, program):
        errors = errors_of(self.rule(program, paid_on_signing_percent=Decimal(50)))
        assert errors["activation_days"][0].startswith("Say within how many days")
        errors = errors_of(self.rule(program, paid_on_signing_percent=Decimal(150), activation_days=30))
        assert errors["paid_on_signing_percent"] == [
            "The share paid on signing cannot be above 100 %: 150 % was given."
        ]

    def test_fields_of_other_kinds_are_refused(self, program):
        errors = errors_of(
            self.rule(program, spif_amount=Decimal(5), rebate_period="year", points_multiplier=Decimal(2))
        )
        assert errors == {
            "spif_amount": ["Only SPIFs pay a fixed bonus."],
            "rebate_period": ["Only rebates run over a period."],
            "points_multiplier": ["Only points rules multiply activity points."],
        }

    def test_the_minimum_tier_belongs_to_the_rules_program(self, program):
        errors = errors_of(self.rule(program, min_tier=TierFactory()))
        assert errors == {"min_tier": ["Choose a tier of the rule's program."]}

    def test_a_rule_ends_after_it_starts(self, program):
        errors = errors_of(self.rule(program, effective_to=TODAY - datetime.timedelta(days=1)))
        assert errors["effective_to"] == [
            "The rule ends before it starts: choose a last day on or after the first."
        ]

    def test_a_margin_above_100_percent_is_refused(self, program, tiers):
        created = self.rule(program, kind=RuleKind.MARGIN)
        created.save()
        assert errors_of(MarginRate(rule=created, tier=tiers["Gold"], percent=Decimal(101))) == {
            "percent": ["The margin cannot be above 100 %: 101 % was given."]
        }


@pytest.mark.django_db
class TestThePastStaysPaid:
    def test_a_started_rule_refuses_to_change_its_terms(self, program, tiers):
        started = commission_rule(program, effective_from=TODAY - datetime.timedelta(days=10))
        started.currency = "EUR"
        started.min_tier = tiers["Gold"]
        errors = errors_of(started)
        assert errors["__all__"][0].startswith(
            "This rule has started or already earned money, so its terms ("
        )
        assert "currency, min tier" in errors["__all__"][0]

    def test_a_started_rule_may_be_renamed_and_a_future_one_changed(self, program):
        started = commission_rule(program, effective_from=TODAY - datetime.timedelta(days=10))
        started.name = "Renamed"
        started.full_clean()
        future = commission_rule(program, effective_from=TODAY + datetime.timedelta(days=10))
        future.currency = "EUR"
        future.full_clean()

    def test_a_started_rule_cannot_end_before_what_it_paid_for(self, partner, program, cloud):
        started = commission_rule(program, effective_from=TODAY - datetime.timedelta(days=30))
        deal = won_deal(
            partner, closed_on=TODAY + datetime.timedelta(days=1), line=cloud
        )  # a time zone ahead
        services.calculate_deal(deal_id=deal.pk)
        started.effective_to = TODAY
        last_paid = TODAY + datetime.timedelta(days=1)
        assert errors_of(started) == {
            "effective_to": [
                f"This rule has already paid for facts up to {last_paid:%d %b %Y}; it cannot end before that."
            ]
        }

    def test_a_new_version_changes_the_future_and_leaves_the_past(
        self, partner, program, tiers, cloud, superuser
    ):
        old = margin_rule(program, {tiers["Gold"]: "10"}, effective_from=TODAY - datetime.timedelta(days=60))
        set_tier(partner, tiers["Gold"], TODAY - datetime.timedelta(days=365))
        past = won_deal(
            partner, "1000.00", closed_on=TODAY - datetime.timedelta(days=3), line=cloud, customer="Past"
        )
        services.calculate_deal(deal_id=past.pk)

        new = services.rule_new_version(actor=superuser, rule=old, effective_from=TODAY)
        MarginRate.objects.filter(rule=new).update(percent=Decimal(12))
        future = won_deal(partner, "1000.00", closed_on=TODAY, line=cloud, customer="Today")
        summary = services.calculate()

        old.refresh_from_db()
        assert old.effective_to == TODAY - datetime.timedelta(days=1)
        assert new.supersedes == old and new.effective_from == TODAY
        assert summary.entries == 1  # only today's deal; the past deal keeps its entry
        amounts = dict(LedgerEntry.objects.values_list("source_id", "amount"))
        assert amounts == {str(past.pk): Decimal("100.00"), str(future.pk): Decimal("120.00")}

    def test_a_new_version_cannot_start_in_the_past(self, program, superuser):
        old = commission_rule(program, effective_from=TODAY - datetime.timedelta(days=60))
        with pytest.raises(ValidationError, match="starts today or later"):
            services.rule_new_version(
                actor=superuser, rule=old, effective_from=TODAY - datetime.timedelta(days=1)
            )


@pytest.mark.django_db
def test_a_started_rule_cannot_end_in_the_past(program):
    started = commission_rule(program, effective_from=TODAY - datetime.timedelta(days=30))
    started.effective_to = TODAY - datetime.timedelta(days=2)
    yesterday = TODAY - datetime.timedelta(days=1)
    assert errors_of(started) == {
        "effective_to": [
            "A rule that has started cannot end in the past: facts already earned under it. "
            f"The earliest last day is {yesterday:%d %b %Y}."
        ]
    }
    started.effective_to = yesterday
    started.full_clean()
