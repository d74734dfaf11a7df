"""Who hears of what happens to a partner: its users, its distributor's users, the staff covering it.

Read set-wise for a batch of partners (a handful of queries whatever their
number), so that turning a nightly run's 10,000 events into items costs the
same few reads as turning one.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Q

from partners.models import MDF_ROLES, ManagerProfile, Membership, Partner


@dataclass(frozen=True)
class PartnerFacts:
    id: int
    name: str
    region: str
    channel_manager_id: int | None
    distributor_id: int | None


@dataclass(frozen=True)
class Staff:
    user_id: int
    regions: frozenset[str]
    may_decide_deals: bool
    may_decide_mdf: bool


@dataclass
class Audience:
    partners: dict[int, PartnerFacts] = field(default_factory=dict)
    # partner id -> [(user id, role)]
    members: dict[int, list[tuple[int, str]]] = field(default_factory=lambda: defaultdict(list))
    # distributor id -> [user id]
    distributor_users: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    staff: list[Staff] = field(default_factory=list)

    def partner_users(self, partner_id: int, *, roles=None) -> list[int]:
        return [user for user, role in self.members.get(partner_id, []) if roles is None or role in roles]

    def partner_admins(self, partner_id: int) -> list[int]:
        return self.partner_users(partner_id, roles=MDF_ROLES)

    def distributor_users_of(self, partner_id: int) -> list[int]:
        partner = self.partners.get(partner_id)
        if partner is None or partner.distributor_id is None:
            return []
        return self.distributor_users.get(partner.distributor_id, [])

    def covering(self, partner_id: int) -> list[Staff]:
        """Staff whose coverage holds the partner: assigned to it, or covering its region."""
        partner = self.partners.get(partner_id)
        if partner is None:
            return []
        return [
            staff
            for staff in self.staff
            if staff.user_id == partner.channel_manager_id or partner.region in staff.regions
        ]


def audience_for(partner_ids, *, with_staff: bool = True) -> Audience:
    """The people of these partners and the staff covering them (four queries, plus the staff's
    permissions: two per covering manager, who are few)."""
    audience = Audience()
    ids = sorted({int(p) for p in partner_ids})
    if not ids:
        return audience
    for pk, name, region, manager_id, distributor_id in Partner.objects.filter(pk__in=ids).values_list(
        "id", "name", "region", "channel_manager_id", "distributor_id"
    ):
        audience.partners[pk] = PartnerFacts(pk, name, region, manager_id, distributor_id)
    for partner_id, user_id, role in Membership.objects.filter(
        partner_id__in=ids, user__is_active=True
    ).values_list("partner_id", "user_id", "role"):
        audience.members[partner_id].append((user_id, role))
    distributor_ids = {p.distributor_id for p in audience.partners.values() if p.distributor_id}
    if distributor_ids:
        for distributor_id, user_id in Membership.objects.filter(
            distributor_id__in=distributor_ids, user__is_active=True
        ).values_list("distributor_id", "user_id"):
            audience.distributor_users[distributor_id].append(user_id)
    if with_staff:
        audience.staff = _covering_staff(audience)
    return audience


def _covering_staff(audience: Audience) -> list[Staff]:
    regions = {p.region for p in audience.partners.values()}
    assigned = {p.channel_manager_id for p in audience.partners.values() if p.channel_manager_id}
    profiles = {
        user_id: set(user_regions or [])
        for user_id, user_regions in ManagerProfile.objects.filter(
            user__is_staff=True, user__is_active=True
        ).values_list("user_id", "regions")
    }
    candidates = {user_id for user_id, user_regions in profiles.items() if user_regions & regions} | assigned
    if not candidates:
        return []
    users = (
        get_user_model()
        ._default_manager.filter(Q(pk__in=candidates), is_staff=True, is_active=True)
        .order_by("pk")
    )
    return [
        Staff(
            user_id=user.pk,
            regions=frozenset(profiles.get(user.pk, set())),
            may_decide_deals=user.has_perm("deals.change_deal"),
            may_decide_mdf=user.has_perm("deals.change_mdfrequest"),
        )
        for user in users
    ]
