"""The channel manager role: a group with the model permissions the admin needs.

Every installation has it: ``migrate`` sets it up after each run (the
``post_migrate`` receiver below, connected in ``PartnersConfig.ready``), and
``manage.py setup_roles`` does the same on demand. Both are safe to repeat:
the group's permissions are set to exactly the list below.
"""

from django.contrib.auth.models import Group, Permission

CHANNEL_MANAGERS = "Channel managers"

# Apps whose models channel managers administer in full (core: exchange rates
# and the audit trail; inbox: announcements; onboarding: applications and checklists).
_MANAGED_APPS = (
    "core",
    "partners",
    "programs",
    "enablement",
    "gates",
    "deals",
    "incentives",
    "webhooks",
    "inbox",
    "onboarding",
)
# Each user's own records: no role reads or changes another user's.
_PERSONAL = {"inboxitem", "inboxpreference", "inboxdigest"}
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
    "webhookdelivery",
    "deliveryattempt",
    # People's learning: recorded by the portal and the LMS, issued certifications follow it.
    "enrolment",
    "quizattempt",
    "completion",
    "contentdownload",
    # What a partner accepted, by name, time and address: a record, never edited.
    "agreementacceptance",
    # Coverage: a manager reads his own, and never widens it himself.
    "managerprofile",
    # Who manages which program: administrators grant it, managers see it.
    "programuserobjectpermission",
    "programgroupobjectpermission",
}
# Rights a manager holds only when an administrator grants them to him. ``manage_program``
# is granted per program (django-guardian); held globally, it manages every program.
_GRANTED_SEPARATELY = {"view_all_partners", "grant_coverage", "manage_program"}


def ensure_channel_manager_group() -> Group:
    """Create the group if it is missing and give it exactly the role's permissions."""
    group, _ = Group.objects.get_or_create(name=CHANNEL_MANAGERS)
    permissions = Permission.objects.filter(content_type__app_label__in=_MANAGED_APPS).select_related(
        "content_type"
    )
    wanted = [
        p
        for p in permissions
        if p.content_type.model not in _READ_ONLY or p.codename.startswith("view_")
        if p.codename not in _GRANTED_SEPARATELY and p.content_type.model not in _PERSONAL
    ]
    # Users appear in autocompletes (channel manager, memberships); creating or
    # editing logins stays with administrators, since changing a user can
    # grant superuser status.
    wanted += list(Permission.objects.filter(content_type__app_label="auth", codename="view_user"))
    # They issue integration tokens acting for themselves (never more than they see); seeing and
    # revoking everyone's tokens (change_integrationtoken) stays with administrators.
    wanted += list(Permission.objects.filter(content_type__app_label="api", codename="add_integrationtoken"))
    group.permissions.set(wanted)
    return group


def setup_roles_after_migrate(sender, **kwargs) -> None:
    """``post_migrate``: the role follows the permissions each migrated app has just created.

    Django sends the signal once per app, after creating that app's permissions;
    each managed app's run adds its models, so the last one leaves the role complete.
    """
    if sender.label in _MANAGED_APPS or sender.label == "api":
        ensure_channel_manager_group()
