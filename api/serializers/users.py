"""Logins and the memberships that tie each one to a partner or a distributor. Never a password."""

from django.contrib.auth import get_user_model
from rest_framework import serializers

from core.serializers import StrictModelSerializer, StrictSerializer
from partners.members import PARTNER_ROLE_CHOICES
from partners.models import Membership


class MembershipSerializer(StrictModelSerializer):
    """A membership as read; a PATCH or PUT changes its role only."""

    email = serializers.EmailField(source="user.email", read_only=True)
    name = serializers.SerializerMethodField()
    is_active = serializers.BooleanField(source="user.is_active", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "email", "name", "is_active", "partner", "distributor", "role", "updated_at"]
        read_only_fields = ["id", "user", "partner", "distributor", "updated_at"]

    def get_name(self, membership: Membership) -> str:
        return membership.user.get_full_name()


class MembershipInviteSerializer(StrictSerializer):
    partner = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, help_text="The partner whose team the invitee joins."
    )
    # The address is the login's name too, which holds 150 characters.
    email = serializers.EmailField(
        max_length=150, help_text="The invitee's address; it becomes the login's name."
    )
    role = serializers.ChoiceField(choices=PARTNER_ROLE_CHOICES)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")


class UserMembershipSerializer(StrictModelSerializer):
    class Meta:
        model = Membership
        fields = ["id", "partner", "distributor", "role"]
        read_only_fields = fields


class UserSerializer(StrictModelSerializer):
    name = serializers.SerializerMethodField()
    membership = UserMembershipSerializer(
        read_only=True, allow_null=True, help_text="The organisation the login belongs to; null for staff."
    )
    updated_at = serializers.DateTimeField(
        read_only=True,
        help_text="When the login or its membership last changed (a sign-in alone is no change); "
        "what updated_since compares.",
    )

    class Meta:
        model = get_user_model()
        fields = [
            "id",
            "username",
            "email",
            "first_name",
            "last_name",
            "name",
            "is_active",
            "is_staff",
            "date_joined",
            "last_login",
            "membership",
            "updated_at",
        ]
        read_only_fields = fields

    def get_name(self, user) -> str:
        return user.get_full_name()
