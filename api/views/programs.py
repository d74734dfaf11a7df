"""Programs, tiers and benefits: partners see the programs they qualify for, staff all of them."""

from api.serializers.programs import BenefitSerializer, ProgramSerializer, TierSerializer
from api.views.base import ReadOnlyViewSet
from programs.filtersets import BenefitFilterSet, ProgramFilterSet, TierFilterSet
from programs.models import Benefit, Program, Tier


class ProgramViewSet(ReadOnlyViewSet):
    serializer_class = ProgramSerializer
    filterset_class = ProgramFilterSet
    ordering_fields = ["id", "name", "created_at"]
    ordering = ["name", "id"]

    def scoped_queryset(self):
        return Program.objects.visible_to(self.principal)


class TierViewSet(ReadOnlyViewSet):
    serializer_class = TierSerializer
    filterset_class = TierFilterSet
    ordering_fields = ["id", "rank"]
    ordering = ["program_id", "rank"]

    def scoped_queryset(self):
        return Tier.objects.visible_to(self.principal)


class BenefitViewSet(ReadOnlyViewSet):
    serializer_class = BenefitSerializer
    filterset_class = BenefitFilterSet
    ordering_fields = ["id", "name", "kind"]
    ordering = ["program_id", "kind", "name", "id"]

    def scoped_queryset(self):
        return (
            Benefit.objects.visible_to(self.principal)
            .select_related("product_line", "customer_segment")
            .prefetch_related("tiers")
        )


def register(router) -> None:
    router.register("programs", ProgramViewSet, basename="program")
    router.register("tiers", TierViewSet, basename="tier")
    router.register("benefits", BenefitViewSet, basename="benefit")
