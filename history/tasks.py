"""Celery tasks write through the task door, with the task's name."""

from typing import Any

from celery import signals

from history.context import Door, door

_OPEN: dict[str, Any] = {}


def _started(task_id=None, task=None, **kwargs) -> None:
    block = door(Door.TASK, task=task.name if task is not None else None)
    block.__enter__()
    _OPEN[task_id] = block


def _finished(task_id=None, **kwargs) -> None:
    block = _OPEN.pop(task_id, None)
    if block is not None:
        block.__exit__(None, None, None)


def connect() -> None:
    # An eager task inside a request (the demo, the tests) borrows the request's
    # context and user for its run, then gives the door back.
    signals.task_prerun.connect(_started, weak=False, dispatch_uid="history.task_prerun")
    signals.task_postrun.connect(_finished, weak=False, dispatch_uid="history.task_postrun")
