"""Management commands write through the command door, with the command's name."""

from collections.abc import Sequence

import django
from django.core import management

from history.context import Door, history_context

# Servers open a context per request instead: one for the whole process would
# merge every request into it.
SERVERS = frozenset({"runserver", "testserver"})


def execute_from_command_line(argv: Sequence[str]) -> None:
    """``manage.py``: Django's ``execute_from_command_line`` inside a context naming the command."""
    argv = list(argv)
    command = argv[1] if len(argv) > 1 else ""
    if command in SERVERS or command.startswith("-"):
        management.execute_from_command_line(argv)
        return
    django.setup()
    with history_context(door=Door.COMMAND, command=command):
        management.execute_from_command_line(argv)
