"""Deal registrations and MDF requests move by their transition tables, with the same refusals as before."""

import pytest
from django.core.exceptions import ValidationError

from core.states import require_move
from deals.models import DEAL_STATE_MOVES, MDF_STATE_MOVES, DealStatus, MdfStatus


def test_a_registration_is_decided_once_and_closed_once():
    assert {to for start, to in DEAL_STATE_MOVES if start == DealStatus.SUBMITTED} == {
        DealStatus.APPROVED,
        DealStatus.REJECTED,
        DealStatus.LOST,
    }
    assert {to for start, to in DEAL_STATE_MOVES if start == DealStatus.APPROVED} == {
        DealStatus.WON,
        DealStatus.LOST,
        DealStatus.EXPIRED,
    }
    finished = {DealStatus.REJECTED, DealStatus.WON, DealStatus.LOST, DealStatus.EXPIRED}
    assert not {start for start, _ in DEAL_STATE_MOVES} & finished


def test_an_mdf_request_is_claimed_only_once_approved_and_paid_only_once_claimed():
    assert (MdfStatus.APPROVED, MdfStatus.CLAIMED) in MDF_STATE_MOVES
    assert (MdfStatus.REQUESTED, MdfStatus.CLAIMED) not in MDF_STATE_MOVES
    assert {start for start, to in MDF_STATE_MOVES if to == MdfStatus.PAID} == {MdfStatus.CLAIMED}


def test_a_refused_move_raises_the_message_given():
    with pytest.raises(ValidationError) as refused:
        require_move(
            DEAL_STATE_MOVES,
            DealStatus.WON,
            DealStatus.APPROVED,
            refused="This registration is won: nothing to do.",
        )
    assert refused.value.messages == ["This registration is won: nothing to do."]
