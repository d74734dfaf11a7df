"""Queueing background work from a service without importing the tasks that wrap it.

Each app's ``tasks.py`` imports the services it wraps (a task loads ids and
calls one service). A service that queues a task in return would close an
import cycle, so it names the task instead, as Celery lets any client do:
``task("gates.tasks.evaluate_all_gates").apply_async(countdown=60)``. The name
is looked up in the application's registry, which Celery fills from every
app's ``tasks`` module, so an unknown name raises at once rather than sending
a message nobody consumes. Eager mode (no broker) runs the task in-process as
before.
"""

from celery import Task, current_app


def task(name: str) -> Task:
    """The registered task called ``name`` (its module path and function, e.g. ``deals.tasks.notify_deal_event``)."""
    return current_app.tasks[name]
