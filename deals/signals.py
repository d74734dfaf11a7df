"""Extension points of deal registration.

``deal_won`` is sent once a deal is marked won and its sale fact recorded,
after the transaction commits. Receivers (incentive calculation) must be
idempotent: a retried delivery must not pay twice.
"""

from django.dispatch import Signal

# Sent with sender=Deal, deal_id=int, sale_id=int | None.
deal_won = Signal()
