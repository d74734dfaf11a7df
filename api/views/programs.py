"""Programs, tiers, benefits and segments: partners see the programs they qualify for, staff all of
them; a program's managers change its definitions.

Writes go through ``programs.services`` as the admin's do (audited, recorded in
the history with the API as their door). Who may write: the model permissions
(channel managers hold them), a token for every partner, and the right to
manage the program (django-guardian) for the definition as stored and, when
it moves, for the program it moves to. A delete the database refuses (a tier
partners hold, a program with gates) answers 409.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.exceptions import PermissionDenied, ValidationError

from api.pagination import PagePagination
from api.permissions import (
    NOT_YOUR_PROGRAM,
    ProgramDefinitionMixin,
    require_program_manager,
    require_vendor_wide,
)
from api.schema import ErrorSerializer
from api.serializers.gates import (
    SegmentDiffSerializer,
    SegmentDraftRequestSerializer,
    SegmentPublishRequestSerializer,
    SegmentVersionSerializer,
)
from api.serializers.programs import (
    BenefitSerializer,
    ProgramSerializer,
    SegmentSerializer,
    TierSerializer,
)
from api.views.base import ScopedViewMixin
from api.views.versions import VersionedViewMixin, versions_schema
from programs import services
from programs.filtersets import BenefitFilterSet, ProgramFilterSet, TierFilterSet
from programs.models import Benefit, Program, Segment, Tier, programs_managed_by
from programs.versioning import SEGMENTS

IN_USE = OpenApiResponse(
    ErrorSerializer,
    description="Still in use (a gate, a partner's tier, a program refers to it): not deleted.",
)


def _definition_schema(noun: str, plural: str, validated: str, *, list_summary: str = ""):
    return extend_schema_view(
        list=extend_schema(summary=list_summary or f"{plural.capitalize()} you can see"),
        retrieve=extend_schema(summary=f"A {noun}"),
        create=extend_schema(summary=f"Create a {noun}", description=validated),
        update=extend_schema(summary=f"Replace a {noun}", description=validated),
        partial_update=extend_schema(summary=f"Change a {noun}", description=validated),
        destroy=extend_schema(summary=f"Delete a {noun}", responses={204: None, 409: IN_USE}),
    )


def _permissions(model: str) -> dict[str, list[str] | None]:
    return {
        "create": [f"programs.add_{model}"],
        "update": [f"programs.change_{model}"],
        "partial_update": [f"programs.change_{model}"],
        "destroy": [f"programs.delete_{model}"],
    }


class _DefinitionViewSet(ProgramDefinitionMixin, ScopedViewMixin, viewsets.ModelViewSet):
    """Create, read, update and delete a program's definition through ``programs.services``.

    ``ProgramDefinitionMixin`` checks the definition as stored on PUT, PATCH and
    DELETE; ``check_writable`` checks it as it will be saved.
    """

    resource = "definitions"

    pagination_class = PagePagination
    delete_may_conflict = True  # documents the 409 of a protected delete

    def check_writable(self, definition) -> None:
        """The program the definition belongs to once saved must be one the caller manages."""
        require_program_manager(self.principal, definition.program)

    def save(self, serializer, *, created: bool):
        data = serializer.validated_data
        self.check_writable(data["_definition"])
        serializer.instance = services.definition_save(
            actor=self.request.user,
            definition=data["_definition"],
            created=created,
            fields=data["_changed"],
            links=data["_links"],
        )

    def perform_create(self, serializer):
        self.save(serializer, created=True)

    def perform_update(self, serializer):
        self.save(serializer, created=False)

    def perform_destroy(self, instance):
        services.definition_delete(actor=self.request.user, definition=instance)


_VALIDATED = "Validated as the admin validates it; field errors name each problem."


@_definition_schema(
    "program",
    "programs",
    _VALIDATED + " Whoever creates a program manages it; changing one takes the right to manage it.",
)
class ProgramViewSet(_DefinitionViewSet):
    serializer_class = ProgramSerializer
    filterset_class = ProgramFilterSet
    ordering_fields = ["id", "name", "created_at"]
    ordering = ["name", "id"]
    write_permissions = _permissions("program")

    def scoped_queryset(self):
        return Program.objects.visible_to(self.principal)

    def check_writable(self, definition) -> None:
        # A new program needs no right on a program (its creator is granted it); a change was
        # checked on the program as stored.
        require_vendor_wide(self.principal)

    def perform_create(self, serializer):
        data = serializer.validated_data
        self.check_writable(data["_definition"])
        serializer.instance = services.program_create(
            actor=self.request.user, program=data["_definition"], fields=data["_changed"]
        )


@_definition_schema(
    "tier", "tiers", _VALIDATED + " Takes the right to manage the tier's program (both, to move it)."
)
class TierViewSet(_DefinitionViewSet):
    serializer_class = TierSerializer
    filterset_class = TierFilterSet
    ordering_fields = ["id", "rank"]
    ordering = ["program_id", "rank"]
    write_permissions = _permissions("tier")

    def scoped_queryset(self):
        return Tier.objects.visible_to(self.principal)


@_definition_schema(
    "benefit",
    "benefits",
    _VALIDATED + " Takes the right to manage the benefit's program (both, to move it); its tiers "
    "are tiers of that program.",
)
class BenefitViewSet(_DefinitionViewSet):
    serializer_class = BenefitSerializer
    filterset_class = BenefitFilterSet
    ordering_fields = ["id", "name", "kind"]
    ordering = ["program_id", "kind", "name", "id"]
    write_permissions = _permissions("benefit")

    def scoped_queryset(self):
        return (
            Benefit.objects.visible_to(self.principal)
            .select_related("product_line", "customer_segment")
            .prefetch_related("tiers")
        )


@_definition_schema(
    "segment",
    "segments",
    _VALIDATED + " Criteria errors name their place in the tree. Creating a segment takes the right "
    "to manage a program; changing one, the right to manage every program it targets.",
    list_summary="Segments (staff only: partners never see them)",
)
@extend_schema_view(
    **versions_schema(
        "segment",
        "who is in it",
        {
            "version": SegmentVersionSerializer,
            "draft": SegmentDraftRequestSerializer,
            "publish": SegmentPublishRequestSerializer,
            "diff": SegmentDiffSerializer,
        },
    )
)
class SegmentViewSet(VersionedViewMixin, _DefinitionViewSet):
    """A segment a program targets is not edited in place: its criteria change by a published draft."""

    serializer_class = SegmentSerializer
    filterset_class = None
    ordering_fields = ["id", "name", "updated_at"]
    ordering = ["name", "id"]
    write_permissions = {
        **_permissions("segment"),
        "draft": ["programs.change_segment"],
        "publish": ["programs.change_segment"],
    }
    versioned = SEGMENTS
    version_serializer_class = SegmentVersionSerializer
    draft_request_serializer_class = SegmentDraftRequestSerializer
    publish_request_serializer_class = SegmentPublishRequestSerializer
    diff_serializer_class = SegmentDiffSerializer

    def scoped_queryset(self):
        return Segment.objects.visible_to(self.principal)

    def require_manage(self, owner) -> None:
        require_vendor_wide(self.principal)
        if not Segment.objects.actionable_by(self.principal, "manage").filter(pk=owner.pk).exists():
            raise PermissionDenied(NOT_YOUR_PROGRAM)

    def check_writable(self, definition) -> None:
        require_vendor_wide(self.principal)
        if definition.pk is None and not programs_managed_by(self.principal).exists():
            raise PermissionDenied(NOT_YOUR_PROGRAM)
        if definition.pk is not None:
            stored = Segment.objects.get(pk=definition.pk)
            if stored.in_use and (definition.criteria, definition.currency) != (
                stored.criteria,
                stored.currency,
            ):
                raise ValidationError(
                    {
                        "criteria": [
                            "A segment in use is not edited in place: save a draft (its draft action) "
                            "and publish it."
                        ]
                    },
                    code="conflict",  # the segment's use refuses it, not the body: a 409
                )


def register(router) -> None:
    router.register("programs", ProgramViewSet, basename="program")
    router.register("tiers", TierViewSet, basename="tier")
    router.register("benefits", BenefitViewSet, basename="benefit")
    router.register("segments", SegmentViewSet, basename="segment")
