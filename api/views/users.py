"""Logins and memberships: who logs in for which partner, invitations, roles, deactivation.

The rules are the admin's (``partners.members``): staff holding the membership
permissions manage the teams of the partners they cover; administrators
(``auth.change_user``) deactivate and reactivate logins. Partner users read
their own organisation's memberships and change nothing. No login is ever
created staff or superuser here.
"""

from django.contrib.auth import get_user_model
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from api.filtering import StrictFilterBackend
from api.pagination import FactCursorPagination
from api.schema import ErrorSerializer
from api.serializers.users import MembershipInviteSerializer, MembershipSerializer, UserSerializer
from api.services import member_invite
from api.views.base import CursorReadOnlyViewSet, ScopedViewMixin
from partners import members
from partners.filtersets import MembershipFilterSet, UserFilterSet
from partners.models import Membership, Partner, users_visible_to
from partners.selectors import logins_with_updated_at

_TAKEN = OpenApiResponse(
    ErrorSerializer, description="A login already uses this email address (or is already a member)."
)


@extend_schema_view(
    list=extend_schema(
        summary="Memberships: who logs in for which partner or distributor, newest first",
        description="Staff see the memberships of the organisations they cover; a partner or distributor "
        "user those of its own organisation.",
    ),
    retrieve=extend_schema(summary="A membership"),
    create=extend_schema(
        summary="Invite a colleague into a partner's team",
        description="Creates a login for the email address (never staff) and its membership with the "
        "role, and emails the invitee the link to choose a password (the password reset link). Staff "
        "holding the membership permissions, for the partners they cover. A partner the caller cannot "
        "see answers 400; an address a login already uses, 409.",
        request=MembershipInviteSerializer,
        responses={201: MembershipSerializer, 409: _TAKEN},
    ),
    update=extend_schema(summary="Replace a membership", description="Only the role is written."),
    partial_update=extend_schema(summary="Change a member's role"),
    destroy=extend_schema(
        summary="Remove a membership",
        description="The login stays, belonging to no organisation: it sees nothing until it joins one.",
    ),
)
class MembershipViewSet(
    ScopedViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    resource = "partners"  # a partner's team
    serializer_class = MembershipSerializer
    filterset_class = MembershipFilterSet
    pagination_class = FactCursorPagination
    filter_backends = [StrictFilterBackend]
    write_permissions = {
        "create": ["partners.add_membership"],
        "update": ["partners.change_membership"],
        "partial_update": ["partners.change_membership"],
        "destroy": ["partners.delete_membership"],
    }

    def scoped_queryset(self):
        return Membership.objects.visible_to(self.principal).select_related("user")

    def get_serializer_class(self):
        if self.action == "create":
            return MembershipInviteSerializer
        return MembershipSerializer

    def create(self, request, *args, **kwargs):
        form = MembershipInviteSerializer(data=request.data, context=self.get_serializer_context())
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        partner = Partner.objects.visible_to(self.principal).filter(pk=data.pop("partner")).first()
        if partner is None:
            raise ValidationError({"partner": ["No partner with this id among those you can see."]})
        membership = member_invite(
            actor=request.user,
            principal=self.principal,
            partner=partner,
            domain=request.get_host(),
            use_https=request.is_secure(),
            **data,
        )
        body = MembershipSerializer(self.scoped_queryset().get(pk=membership.pk)).data
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        serializer.instance = members.membership_role_change(
            actor=self.request.user,
            principal=self.principal,
            membership=serializer.instance,
            role=serializer.validated_data.get("role", serializer.instance.role),
        )

    def perform_destroy(self, instance):
        members.membership_remove(actor=self.request.user, principal=self.principal, membership=instance)


def _active_schema(active: bool):
    return extend_schema(
        summary="Let a login sign in again" if active else "Stop a login from signing in",
        description="Administrators (staff holding auth.change_user), on the logins they see; never "
        "their own login, and a superuser's only by a superuser. "
        + ("" if active else "Its sessions and the tokens it issued stop working at once. ")
        + "Audited.",
        request=None,
        responses={200: UserSerializer},
        filters=False,
    )


@extend_schema_view(
    list=extend_schema(
        summary="Logins you can see, newest first",
        description="Staff see the members of the organisations they cover (those who grant coverage "
        "also the staff); superusers every login; partner users and distributors none. No password "
        "or hash is ever shown.",
    ),
    retrieve=extend_schema(summary="A login"),
)
class UserViewSet(CursorReadOnlyViewSet):
    resource = "partners"  # the logins of partners' teams
    serializer_class = UserSerializer
    filterset_class = UserFilterSet
    write_permissions = {"deactivate": None, "reactivate": None}

    def scoped_queryset(self):
        users = get_user_model()._default_manager.select_related("membership")
        return logins_with_updated_at(users_visible_to(self.principal, users))

    def _set_active(self, request, active: bool):
        user = self.get_object()
        if not members.user_may_change(self.principal, user):
            raise PermissionDenied("Only administrators activate or deactivate logins, never their own.")
        members.user_active_set(actor=request.user, principal=self.principal, user=user, active=active)
        return Response(self.get_serializer(self.get_object()).data)

    @_active_schema(False)
    @action(detail=True, methods=["post"], filterset_class=None)
    def deactivate(self, request, pk=None):
        return self._set_active(request, False)

    @_active_schema(True)
    @action(detail=True, methods=["post"], filterset_class=None)
    def reactivate(self, request, pk=None):
        return self._set_active(request, True)


def register(router) -> None:
    router.register("memberships", MembershipViewSet, basename="membership")
    router.register("users", UserViewSet, basename="user")
