"""Signals the gates send, for apps above them to connect to in their ``AppConfig.ready``.

``evaluation_finished``
    An evaluation run finished and its results are committed: ``run`` (an
    ``EvaluationRun``). Sent once per run by ``gates.services.after_run``.

``gate_at_risk`` and ``gate_recovered`` are sent by
``gates.forecast.forecasts_refresh`` after its transaction commits, once per
episode:

``gate_at_risk``
    An at-risk episode started: the partner passes the gate today and would
    fail it within the gate's horizon if nothing new arrived. Arguments:
    ``forecast`` (the ``GateForecast`` row: ``partner_id``, ``gate_id``,
    ``fails_on``, ``criterion``, ``shortfall``, ``fix``) and ``episode``
    (the ``GateRiskEpisode`` just opened).

``gate_recovered``
    An at-risk episode ended. Arguments: ``forecast``, ``episode`` (now with
    ``ended_on``; None for a forecast stored before episodes existed) and
    ``reason``: ``"recovered"`` (the gate passes through its horizon again)
    or ``"failed"`` (the gate no longer passes today).

The sender of these two is ``GateForecast``.
"""

from django.dispatch import Signal

evaluation_finished = Signal()
gate_at_risk = Signal()
gate_recovered = Signal()
