"""Signals the gates send, for the layers above them to react to (connect them in ``AppConfig.ready``)."""

from django.dispatch import Signal

# An evaluation run finished and its results are committed: ``run`` (an EvaluationRun).
# Sent once per run by ``gates.services.after_run``.
evaluation_finished = Signal()
