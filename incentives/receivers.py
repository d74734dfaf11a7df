"""Receivers of other apps' extension points. Each only queues a task after commit."""

import logging

from django.db import transaction

from incentives.tasks import calculate_activities_task, calculate_deal_task

logger = logging.getLogger(__name__)


def on_deal_won(sender, deal_id: int, sale_id: int | None = None, **kwargs) -> None:
    """``deals.signals.deal_won``: calculate the deal's incentives in the background.

    The calculation is idempotent, so a redelivered signal pays nothing twice.
    A failure to queue is logged rather than raised: the deal is won whatever
    happens to its incentives, and the daily run and ``calculate_incentives``
    settle it later.
    """

    def enqueue() -> None:
        try:
            calculate_deal_task.delay(deal_id)
        except Exception:
            logger.exception("could not calculate the incentives of deal %s; the daily run will", deal_id)

    transaction.on_commit(enqueue)


def on_activities_changed(sender, activity_ids, **kwargs) -> None:
    """``partners.signals.activities_changed``: price the activities (points, activity SPIFs) after commit.

    Idempotent like every calculation; a failure to queue is logged and the daily run settles it.
    """
    ids = sorted(set(activity_ids))
    if not ids:
        return

    def enqueue() -> None:
        try:
            calculate_activities_task.delay(ids)
        except Exception:
            logger.exception("could not calculate the incentives of activities %s; the daily run will", ids)

    transaction.on_commit(enqueue)
