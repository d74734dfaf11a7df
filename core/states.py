"""Lifecycles as transition tables: the moves a status may make; everything else is refused.

Each model with a lifecycle (partners, deal registrations, MDF requests,
ledger entries) declares its table next to its statuses, as a set of
``(from, to)`` pairs, and its services ask the table before they move a row.
"""

from collections.abc import Collection

from django.core.exceptions import ValidationError

Moves = Collection[tuple[str, str]]


def require_move(moves: Moves, current: str, destination: str, *, refused: str) -> None:
    """Raise ``ValidationError(refused)`` unless the table allows ``current`` to become ``destination``.

    The error's code is ``conflict``: the request is sound but the object's present state
    refuses it (the API answers 409)."""
    if (current, destination) not in moves:
        raise ValidationError(refused, code="conflict")
