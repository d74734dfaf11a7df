"""Partner organisations, their people, and the facts gates are measured on.

Facts (certifications, sales, engagement activities, service proficiencies)
arrive from integrations with an external id that is unique per source, so a
re-sent record updates the one already stored instead of counting twice.
"""

from partners.models.facts import (  # noqa: F401
    ActivityType,
    Certification,
    CertificationQuerySet,
    CertificationTrack,
    CertificationType,
    CustomerSegment,
    EngagementActivity,
    FactQuerySet,
    PartnerScopedQuerySet,
    Person,
    PersonQuerySet,
    ProductLine,
    ProficiencyLevel,
    Sale,
    ServiceOffering,
    ServiceProficiency,
    validate_positive_amount,
)
from partners.models.organisations import (  # noqa: F401
    ADMIN_ROLES,
    DEAL_ROLES,
    EARLIEST_FACT_DATE,
    MDF_ROLES,
    OWN_ORGANISATION_ACTIONS,
    PARTNER_STATE_MOVES,
    BusinessModel,
    Distributor,
    DistributorQuerySet,
    LifecycleStatus,
    ManagerProfile,
    ManagerProfileQuerySet,
    Membership,
    MembershipQuerySet,
    MembershipRole,
    Partner,
    PartnerQuerySet,
    PartnerType,
    Region,
    sees_every_partner,
    users_visible_to,
    validate_fact_date,
)
