"""The versions of a definition's criteria through the API: list, draft, publish and diff.

Gates and segments keep their criteria in versions the same way
(``programs.versioning``); their viewsets mix this in and name their own
serializers, so the two resources read and behave alike.
"""

from typing import TYPE_CHECKING, Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response

from api.permissions import require_vendor_wide
from core.door import principal_user
from criteria.tree import CriteriaError
from gates import services as gate_services
from partners.models import Partner
from programs import versioning
from programs.models import VersionState

# A version number, as the database stores it.
VERSION_MAX = 2_147_483_647
VERSION_NUMBER = {"type": "integer", "minimum": 1, "maximum": VERSION_MAX}


def require_staff_vendor_wide(principal) -> None:
    """Drafts and diffs are the vendor's design work: staff only, with a token for every partner."""
    if not principal_user(principal).is_staff:
        raise PermissionDenied("Versions are for the vendor's staff.")
    require_vendor_wide(principal)


def versions_schema(noun: str, owner_words: str, serializers: dict[str, Any]) -> dict[str, Any]:
    """The documentation of ``VersionedViewMixin``'s actions for one kind of definition."""
    return {
        "versions": extend_schema(
            summary=f"The versions of a {noun}, newest first", responses=serializers["version"](many=True)
        ),
        "draft": extend_schema(
            summary=f"Save the draft of a {noun}'s next version",
            description=f"The {noun} keeps its current criteria until the draft is published. "
            "Criteria errors name their place in the tree.",
            request=serializers["draft"],
            responses=serializers["version"],
        ),
        "publish": extend_schema(
            summary=f"Publish a {noun}'s draft",
            description=f"The draft becomes the {noun}'s criteria on its effective date (today or later); "
            "the version before stays, read-only. Audited.",
            request=serializers["publish"],
            responses=serializers["version"],
        ),
        "diff": extend_schema(
            summary=f"Two versions of a {noun} side by side, and {owner_words} under each",
            description="Counts and names cover the partners you can see. `before` defaults to the current "
            "version, `after` to the draft.",
            parameters=[
                OpenApiParameter("before", VERSION_NUMBER, description="A version number."),
                OpenApiParameter("after", VERSION_NUMBER, description="A version number."),
            ],
            responses={
                200: serializers["diff"],
                404: OpenApiResponse(description=f"No such {noun} or version."),
            },
            filters=False,
        ),
    }


class VersionedViewMixin:
    """``versions``, ``draft``, ``publish`` and ``diff`` on a definition's detail route.

    The viewset names ``versioned`` (a ``programs.versioning.Versioned``), its
    serializers, and ``require_manage(owner)``, which refuses a caller who may
    not change the definition.
    """

    versioned: versioning.Versioned
    version_serializer_class: Any
    draft_request_serializer_class: Any
    publish_request_serializer_class: Any
    diff_serializer_class: Any
    principal: Any

    def require_manage(self, owner) -> None:
        raise NotImplementedError

    def known_query_parameters(self) -> set[str]:
        known = super().known_query_parameters()  # type: ignore[misc]
        # No action: a method the route does not allow, answered 405 whatever its parameters.
        return known | {"before", "after"} if getattr(self, "action", None) in ("diff", None) else known

    if TYPE_CHECKING:

        def get_object(self) -> Any: ...

    @action(detail=True, methods=["get"], filterset_class=None, pagination_class=None)
    def versions(self, request, pk=None):
        require_staff_vendor_wide(self.principal)
        owner = self.get_object()
        rows = self.versioned.versions(owner).order_by("-version")
        return Response(self.version_serializer_class(rows, many=True).data)

    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def draft(self, request, pk=None):
        owner = self.get_object()
        self.require_manage(owner)
        form = self.draft_request_serializer_class(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            draft = versioning.draft_save(
                self.versioned,
                actor=request.user,
                owner=owner,
                criteria=form.validated_data["criteria"],
                currency=form.validated_data.get("currency"),
            )
        except versioning.VersionError as exc:
            raise ValidationError(exc.errors) from exc
        return Response(self.version_serializer_class(draft).data)

    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def publish(self, request, pk=None):
        owner = self.get_object()
        self.require_manage(owner)
        form = self.publish_request_serializer_class(data=request.data)
        form.is_valid(raise_exception=True)
        draft = self.versioned.versions(owner).filter(state=VersionState.DRAFT).first()
        if draft is None:
            # The definition's state refuses it (save a draft first), not the body: a 409.
            raise ValidationError(
                {"non_field_errors": [f"This {self.versioned.noun} has no draft to publish."]},
                code="conflict",
            )
        try:
            versioning.version_publish(
                self.versioned,
                actor=request.user,
                draft=draft,
                effective_from=form.validated_data.get("effective_from"),
            )
        except versioning.VersionError as exc:
            raise ValidationError(exc.errors) from exc
        return Response(self.version_serializer_class(draft).data)

    @action(detail=True, methods=["get"], filterset_class=None, pagination_class=None)
    def diff(self, request, pk=None):
        require_staff_vendor_wide(self.principal)
        owner = self.get_object()
        versions = {v.version: v for v in self.versioned.versions(owner)}
        picked = []
        for name, default in (("before", owner.version), ("after", None)):
            raw = request.query_params.get(name)
            if raw is None:
                number = default
                if number is None:
                    number = next((n for n, v in versions.items() if v.state == VersionState.DRAFT), None)
            elif not (raw.isdigit() and len(raw) <= 10 and int(raw) <= VERSION_MAX):
                raise ValidationError({name: ["A version number is a whole number."]})
            else:
                number = int(raw)
            if number not in versions:
                # A version that does not exist is a resource that is not there.
                raise NotFound(f"{name}: no such version of this {self.versioned.noun}.")
            picked.append(versions[number])
        try:
            diff = gate_services.criteria_diff(
                before=picked[0], after=picked[1], partners=Partner.objects.visible_to(self.principal)
            )
        except CriteriaError as exc:
            raise ValidationError({"non_field_errors": exc.errors}) from exc
        body = {
            "before": picked[0],
            "after": picked[1],
            "criteria": [{"before": r.before, "after": r.after, "changed": r.changed} for r in diff.rows],
            "passing_before": diff.pass_before,
            "passing_after": diff.pass_after,
            "newly_pass": diff.newly_pass,
            "newly_fail": diff.newly_fail,
        }
        return Response(self.diff_serializer_class(body).data)
