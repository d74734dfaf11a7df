"""The channel manager role: a group with the model permissions the admin needs."""

from django.contrib.auth.models import Group, Permission

CHANNEL_MANAGERS = "Channel managers"

# Apps whose models channel managers administer in full.
_MANAGED_APPS = ("partners", "programs", "gates", "deals", "incentives")
# Models they may only look at: written by services, never by hand.
_READ_ONLY = {
    "auditentry",
    "dailyrate",
    "gatestatus",
    "gatestatuschange",
    "evaluationrun",
    "tierchange",
    "benefitgrant",
    "segmentmembership",
    "measuredigest",
    "ledgerentry",
    "ledgertransition",
    "redemption",
    "mdfledgerentry",
}


def ensure_channel_manager_group() -> Group:
    group, _ = Group.objects.get_or_create(name=CHANNEL_MANAGERS)
    permissions = Permission.objects.filter(content_type__app_label__in=_MANAGED_APPS).select_related(
        "content_type"
    )
    wanted = [
        p
        for p in permissions
        if p.content_type.model not in _READ_ONLY or p.codename.startswith("view_")
        if p.codename != "view_all_partners"
    ]
    # Users appear in autocompletes (channel manager, memberships); creating or
    # editing logins stays with administrators, since changing a user can
    # grant superuser status.
    wanted += list(Permission.objects.filter(content_type__app_label="auth", codename="view_user"))
    group.permissions.set(wanted)
    return group
