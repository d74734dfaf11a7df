"""Which kinds of item reach which users: the registry the preferences offer from.

``inbox.sources`` decides who gets each item (the partner's users or admins,
its distributor's users, the staff covering it); this registry says the same
per kind and audience, so that a user is asked how to deliver only the kinds
that can reach them, under the label that fits them (for a channel manager,
at-risk items are about the partners of his coverage, not his own tier).
"""

from dataclasses import dataclass

from inbox.models import InboxKind
from partners.models import MDF_ROLES, Membership

# The audiences of ``inbox.sources``.
PARTNER_ADMIN = "partner_admin"
PARTNER_USER = "partner_user"
DISTRIBUTOR = "distributor"
STAFF = "staff"  # a channel manager or an administrator: the partners of his coverage
STAFF_DECIDING = "staff_deciding"  # staff holding the right to decide deals or MDF


@dataclass(frozen=True)
class KindEntry:
    kind: str
    audiences: frozenset[str]
    # The label per audience, where it differs from the kind's own.
    labels: tuple[tuple[str, str], ...] = ()

    def label_for(self, audience: str) -> str:
        return dict(self.labels).get(audience, InboxKind(self.kind).label)


_PARTNER_USERS = frozenset({PARTNER_ADMIN, PARTNER_USER})

KINDS: tuple[KindEntry, ...] = (
    KindEntry(InboxKind.TIER_CHANGE, _PARTNER_USERS),
    KindEntry(
        InboxKind.AT_RISK,
        _PARTNER_USERS | {STAFF, STAFF_DECIDING},
        labels=(
            (STAFF, "Partners at risk or in grace in your coverage"),
            (STAFF_DECIDING, "Partners at risk or in grace in your coverage"),
        ),
    ),
    KindEntry(InboxKind.APPROVAL, frozenset({DISTRIBUTOR, STAFF_DECIDING})),
    KindEntry(InboxKind.MDF_CLAIM_DUE, frozenset({PARTNER_ADMIN})),
    # The partner's admins, and any partner user holding a certification of his own.
    KindEntry(InboxKind.CERTIFICATION_EXPIRING, _PARTNER_USERS),
    KindEntry(InboxKind.ANNOUNCEMENT, _PARTNER_USERS | {DISTRIBUTOR}),
    # The staff covering the applicant's region (``onboarding.services.application_submit``).
    KindEntry(
        InboxKind.APPLICATION,
        frozenset({STAFF, STAFF_DECIDING}),
        labels=(
            (STAFF, "Applications to become a partner in your coverage"),
            (STAFF_DECIDING, "Applications to become a partner in your coverage"),
        ),
    ),
)


def audience_of(user) -> str | None:
    """The audience a user belongs to, as ``inbox.sources`` addresses them; None for nobody's user."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if user.is_staff:
        deciding = user.has_perm("deals.change_deal") or user.has_perm("deals.change_mdfrequest")
        return STAFF_DECIDING if deciding else STAFF
    membership = Membership.for_user(user)
    if membership is None:
        return None
    if membership.partner_id is not None:
        return PARTNER_ADMIN if membership.role in MDF_ROLES else PARTNER_USER
    if membership.distributor_id is not None:
        return DISTRIBUTOR
    return None


def kinds_received(user) -> list[tuple[str, str]]:
    """(kind, label) of every kind of item that can reach ``user``, in the registry's order."""
    audience = audience_of(user)
    if audience is None:
        return []
    return [(entry.kind, entry.label_for(audience)) for entry in KINDS if audience in entry.audiences]
