"""Cohort comparisons, read-only: the figures of the manager's cohort page."""

from rest_framework import serializers


def _figure(help_text: str) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=24, decimal_places=2, coerce_to_string=True, allow_null=True, help_text=help_text
    )


class CohortDifferenceSerializer(serializers.Serializer):
    measure = serializers.CharField(
        help_text=(
            "Average deal size, Median deal size, Win rate of registered deals, Revenue per partner "
            "or Days to first deal."
        )
    )
    unit = serializers.ChoiceField(choices=["money", "percent", "days"])
    with_n = serializers.IntegerField(
        help_text="Values counted in the cohort: won sales, decided deals or partners, by measure."
    )
    without_n = serializers.IntegerField(help_text="Values counted among the others.")
    with_value = _figure("The cohort's average, median, win rate (%) or days; null without enough values.")
    without_value = _figure("The others' figure.")
    difference = _figure("The cohort's figure minus the others'.")
    low = _figure("The lower bound of the difference's 95 % confidence interval.")
    high = _figure("The upper bound of the difference's 95 % confidence interval.")
    note = serializers.CharField(help_text="Why a figure or its interval is missing; empty otherwise.")


class CohortComparisonSerializer(serializers.Serializer):
    cohort = serializers.CharField(source="cohort.parameter", help_text="The cohort, as `kind:value`.")
    cohort_label = serializers.CharField(source="cohort.label", help_text="The cohort in words.")
    start = serializers.DateField()
    end = serializers.DateField()
    currency = serializers.CharField(help_text="The reference currency of the money figures.")
    with_partners = serializers.IntegerField(help_text="Partners in sight with the attribute.")
    without_partners = serializers.IntegerField(help_text="Partners in sight without it.")
    minimum = serializers.IntegerField(help_text="The fewest partners a group needs to be compared.")
    hidden_reason = serializers.CharField(
        help_text="Why nothing is compared (a group under the minimum); empty otherwise."
    )
    differences = CohortDifferenceSerializer(many=True)
