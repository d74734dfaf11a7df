"""Who may act on deals and MDF requests: thin questions to the one door.

The rules live in the querysets (``Deal.objects.actionable_by``,
``MdfRequest.objects.actionable_by``, ``Partner.objects.actionable_by``); these
helpers ask them about one object. Services ask again, so that a view
forgetting one cannot let an action through.
"""

from django.core.exceptions import PermissionDenied

from deals.models import Deal, DealStatus, MdfRequest
from partners.models import Partner


def can_register_deals_as(user, partner) -> bool:
    return Partner.objects.allows(user, "register_deals", partner)


def can_decide_deal(user, deal: Deal) -> bool:
    """Approve or reject (``Deal.objects.actionable_by(user, "decide")``)."""
    return Deal.objects.allows(user, "decide", deal)


def can_report_outcome(user, deal: Deal) -> bool:
    """Mark won or lost (``Deal.objects.actionable_by(user, "report_outcome")``)."""
    return Deal.objects.allows(user, "report_outcome", deal)


def can_act_on_mdf_as_partner(user, partner) -> bool:
    return Partner.objects.allows(user, "spend_mdf", partner)


def can_decide_mdf(user, request: MdfRequest) -> bool:
    return MdfRequest.objects.allows(user, "decide", request)


def require(allowed: bool, message: str = "You may not do this.") -> None:
    if not allowed:
        raise PermissionDenied(message)


def deal_actions(user, deal: Deal) -> dict[str, bool]:
    """What the deal page offers this user, asked of the door in one query; each action is
    checked again when posted."""
    allowed = Deal.objects.actions_of(user, deal, ["decide", "report_outcome"])
    decide = deal.status == DealStatus.SUBMITTED and "decide" in allowed
    outcome = deal.is_active and "report_outcome" in allowed
    return {
        "approve": decide,
        "reject": decide,
        "won": outcome and deal.status == DealStatus.APPROVED,
        "lost": outcome,
    }
