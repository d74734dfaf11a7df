"""Who may act on deals and MDF requests.

Visibility is the querysets' job (``Deal.objects.visible_to``); these rules say
what a user may *do* with an object it can already see. Services check them
again, so that a view forgetting one cannot let an action through.
"""

from django.core.exceptions import PermissionDenied

from deals.models import Deal, DealStatus, MdfRequest
from partners.models import Membership, MembershipRole

# Partner roles that sell: they register deals and report their outcome.
DEAL_ROLES = {MembershipRole.ADMIN, MembershipRole.SALES}
# Partner roles that spend marketing money.
MDF_ROLES = {MembershipRole.ADMIN}


def partner_membership(user) -> Membership | None:
    """The user's membership when it belongs to a partner (not a distributor)."""
    membership = Membership.for_user(user)
    if membership is None or membership.partner_id is None:
        return None
    return membership


def can_register_deals_as(user, partner) -> bool:
    membership = partner_membership(user)
    return membership is not None and membership.partner_id == partner.pk and membership.role in DEAL_ROLES


def can_decide_deal(user, deal: Deal) -> bool:
    """Approve or reject: a channel manager who sees the deal, or the partner's distributor.

    A registration flagged for review (another partner claims the customer) is
    decided by the vendor only.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_staff:
        return (
            user.has_perm("deals.change_deal") and Deal.objects.visible_to(user).filter(pk=deal.pk).exists()
        )
    membership = Membership.for_user(user)
    return (
        membership is not None
        and membership.distributor_id is not None
        and membership.distributor_id == deal.partner.distributor_id
        and not deal.needs_review
    )


def can_report_outcome(user, deal: Deal) -> bool:
    """Mark won or lost: the partner's sellers, or a channel manager who sees the deal."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_staff:
        return (
            user.has_perm("deals.change_deal") and Deal.objects.visible_to(user).filter(pk=deal.pk).exists()
        )
    membership = partner_membership(user)
    return (
        membership is not None and membership.partner_id == deal.partner_id and membership.role in DEAL_ROLES
    )


def can_act_on_mdf_as_partner(user, partner) -> bool:
    membership = partner_membership(user)
    return membership is not None and membership.partner_id == partner.pk and membership.role in MDF_ROLES


def can_decide_mdf(user, request: MdfRequest) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active or not user.is_staff:
        return False
    return (
        user.has_perm("deals.change_mdfrequest")
        and MdfRequest.objects.visible_to(user).filter(pk=request.pk).exists()
    )


def require(allowed: bool, message: str = "You may not do this.") -> None:
    if not allowed:
        raise PermissionDenied(message)


def deal_actions(user, deal: Deal) -> dict[str, bool]:
    """What the deal page offers this user; each action is checked again when posted."""
    decide = deal.status == DealStatus.SUBMITTED and can_decide_deal(user, deal)
    outcome = deal.is_active and can_report_outcome(user, deal)
    return {
        "approve": decide,
        "reject": decide,
        "won": outcome and deal.status == DealStatus.APPROVED,
        "lost": outcome,
    }
