"""Gates, what the evaluation concludes about each partner, and the history of it.

The definitions (``Gate``) are edited by channel managers. The results
(``GateStatus``, ``PartnerTier``, ``BenefitGrant``, ``SegmentMembership``) are
written only by the services in ``gates.services`` and keep a history
(``GateStatusChange``, ``TierChange``) of every change: ``gates.models.evaluation``.
The forecast's rows and episodes are in ``gates.models.forecasts``, and the
reports the admin and the API read back (what-if, replay) in ``gates.models.reports``.
"""

from gates.models.evaluation import (  # noqa: F401
    MAX_FORECAST_HORIZON_DAYS,
    BenefitGrant,
    BenefitGrantQuerySet,
    EvaluationRun,
    EvaluationRunQuerySet,
    Gate,
    GateOutcome,
    GateQuerySet,
    GateResultQuerySet,
    GateState,
    GateStatus,
    GateStatusChange,
    GateVersion,
    GateVersionQuerySet,
    MeasureDigest,
    PartnerResultQuerySet,
    PartnerTier,
    ProgramResultQuerySet,
    SegmentMembership,
    StaffOnlyQuerySet,
    TierChange,
    TierChangeReason,
    _day,
    prerequisite_cycle,
)
from gates.models.forecasts import (  # noqa: F401
    GateForecast,
    GateRiskEpisode,
    RiskEpisodeEnd,
)
from gates.models.reports import (  # noqa: F401
    ReplayRow,
    ReplayRun,
    ReplayRunQuerySet,
    WhatIfRun,
    WhatIfRunQuerySet,
)
