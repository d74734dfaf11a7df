"""How a partner's tier moves: promotion at once, demotion only after grace, overrides on top.

Pure functions over plain values, so the rules can be tested without a database.
"""

import datetime
from dataclasses import dataclass, replace

from gates.models import TierChangeReason


@dataclass(frozen=True)
class TierState:
    tier_id: int | None  # what the partner holds: the override in force, or else the earned tier
    since: datetime.date
    earned_tier_id: int | None
    qualified_tier_id: int | None
    grace_until: datetime.date | None
    override_tier_id: int | None = None
    override_expires_on: datetime.date | None = None
    # The day the running grace started; None outside grace.
    grace_started_on: datetime.date | None = None


@dataclass(frozen=True)
class TierMove:
    reason: str
    from_tier_id: int | None  # held before
    to_tier_id: int | None  # held after
    note: str = ""


def _override_in_force(state: TierState, as_of: datetime.date) -> bool:
    return state.override_tier_id is not None and (
        state.override_expires_on is None or state.override_expires_on >= as_of
    )


def tier_lost_on(
    *,
    fails_on: datetime.date | None,
    grace_days: int,
    grace_until: datetime.date | None = None,
    override_expires_on: datetime.date | None = None,
    overridden: bool = False,
) -> datetime.date | None:
    """The first day a partner would no longer hold its earned tier, by ``next_tier_state``'s rules.

    The gate of the earned tier first fails on ``fails_on`` (or has failed,
    and the tier is kept in grace until ``grace_until``): the evaluation of
    that day starts a grace of ``grace_days`` (none: the tier goes that same
    day), the tier is kept through its last day and goes the day after. An
    override in force holds the tier held whatever the gates say, through
    ``override_expires_on``: the tier goes no earlier than the day after, and
    never while an override without an end holds it (None).
    """
    if grace_until is not None:
        lost = grace_until + datetime.timedelta(days=1)
    elif fails_on is None:
        return None
    elif grace_days <= 0:
        lost = fails_on
    else:
        lost = fails_on + datetime.timedelta(days=grace_days + 1)
    if overridden:
        if override_expires_on is None:
            return None
        lost = max(lost, override_expires_on + datetime.timedelta(days=1))
    return lost


def next_tier_state(
    current: TierState | None,
    *,
    qualified_tier_id: int | None,
    ranks: dict[int, int],
    grace_days: dict[int, int],
    as_of: datetime.date,
) -> tuple[TierState | None, list[TierMove]]:
    """The tier state after an evaluation, and the moves that lead there.

    * qualifying for a higher tier promotes at once and ends any grace;
    * qualifying for less starts the earned tier's grace period; the partner
      keeps the tier until ``grace_until`` (inclusive) and drops to what it
      then qualifies for on the day after, unless it recovers first;
    * a grace lasts the tier's ``grace_days`` as they are on the day of the
      evaluation, counted from its start: editing the tier lengthens or
      shortens the graces running (a move records the new end);
    * a manager's override decides the tier held while it is in force; when
      it expires, the earned tier applies again.
    """
    if current is None:
        if qualified_tier_id is None:
            return None, []
        current = TierState(None, as_of, None, None, None)
    moves: list[TierMove] = []
    state = replace(current, qualified_tier_id=qualified_tier_id)
    earned = state.earned_tier_id

    def rank(tier_id: int | None) -> int:
        return ranks.get(tier_id, 0) if tier_id is not None else 0

    if rank(qualified_tier_id) > rank(earned):
        state = replace(state, earned_tier_id=qualified_tier_id, grace_until=None, grace_started_on=None)
        moves.append(TierMove(TierChangeReason.PROMOTED, earned, qualified_tier_id))
    elif rank(qualified_tier_id) == rank(earned):
        if state.grace_until is not None:
            state = replace(state, grace_until=None, grace_started_on=None)
            moves.append(TierMove(TierChangeReason.GRACE_RECOVERED, earned, earned))
    elif state.grace_until is None:
        days = grace_days.get(earned, 0) if earned is not None else 0
        if days > 0:
            until = as_of + datetime.timedelta(days=days)
            state = replace(state, grace_until=until, grace_started_on=as_of)
            moves.append(
                TierMove(TierChangeReason.GRACE_STARTED, earned, earned, f"grace until {until.isoformat()}")
            )
        else:
            state = replace(state, earned_tier_id=qualified_tier_id)
            moves.append(TierMove(TierChangeReason.DEMOTED, earned, qualified_tier_id))
    else:
        until = state.grace_until
        if state.grace_started_on is not None and earned is not None:
            until = state.grace_started_on + datetime.timedelta(days=grace_days.get(earned, 0))
        if as_of > until:
            state = replace(state, earned_tier_id=qualified_tier_id, grace_until=None, grace_started_on=None)
            moves.append(
                TierMove(TierChangeReason.DEMOTED, earned, qualified_tier_id, "grace ended without recovery")
            )
        elif until != state.grace_until:
            state = replace(state, grace_until=until)
            moves.append(
                TierMove(TierChangeReason.GRACE_CHANGED, earned, earned, f"grace until {until.isoformat()}")
            )

    if state.override_tier_id is not None and not _override_in_force(state, as_of):
        moves.append(TierMove(TierChangeReason.OVERRIDE_ENDED, state.override_tier_id, state.earned_tier_id))
        state = replace(state, override_tier_id=None, override_expires_on=None)

    held = state.override_tier_id if _override_in_force(state, as_of) else state.earned_tier_id
    if held != current.tier_id:
        state = replace(state, tier_id=held, since=as_of)
    # The history records the tier the partner holds before and after (what
    # incentives pay on); what happened to the earned tier is in the reason
    # and the note.
    overridden = " (an override decides the tier held)" if _override_in_force(state, as_of) else ""
    moves = [
        TierMove(move.reason, current.tier_id, state.tier_id, (move.note + overridden).strip())
        for move in moves
    ]
    return state, moves
