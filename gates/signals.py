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
    ``reason``: ``"recovered"`` (the gate passes through its horizon again),
    ``"failed"`` (the gate no longer passes today) or ``"overridden"`` (an
    override holds the gate's tier through the horizon: no risk to the tier;
    no webhook event, the gate itself may still fail later).

``gate_forecasts_changed``
    Once per ``forecasts_refresh``, after commit, when running episodes moved
    or episodes ended: ``moved`` (the (partner id, gate id) pairs of running
    episodes whose forecast changed: failing day, shortfall or fix),
    ``closer`` (those of them whose failing day moved closer than the day
    last told, notified again), ``ended`` ((partner id, gate id, reason)
    triples, reason as for ``gate_recovered`` or ``"overridden"``) and
    ``as_of`` (the forecast's day). One signal for the whole refresh, so a
    receiver reads the rows set-wise.

The sender of these three is ``GateForecast``.
"""

from django.dispatch import Signal

evaluation_finished = Signal()
gate_at_risk = Signal()
gate_recovered = Signal()
gate_forecasts_changed = Signal()
