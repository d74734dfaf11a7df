"""Receivers of other apps' extension points. Each only queues a task after commit."""

import logging

from django.db import transaction

from incentives.tasks import calculate_deal_task

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
