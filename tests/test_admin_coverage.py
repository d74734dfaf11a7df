"""The admin respects coverage: a channel manager covering EMEA reaches nothing of another region.

Every check here is generated from ``admin.site._registry``: a model admin
added later is walked like the others, and one that cannot be classified
(partner-scoped with a builder below, or vendor-wide reference data) fails
``test_every_registered_model_is_classified``.

For every partner-scoped model the world holds one object of the covered
partner (Acme, EMEA) and one of a partner in Latin America (Xolotl), whose
names must never reach the EMEA manager: not in a changelist, a filter, an
autocomplete or a deletion's summary, and not through a change, delete or
history URL, an action, or an add form posted with its id.
"""

import datetime
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.forms import ModelChoiceField
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from api.models import IntegrationToken
from api.services import token_issue
from deals.models import Deal, MdfLedgerEntry, MdfPeriod, MdfRequest
from enablement.models import (
    AssetKind,
    Completion,
    ContentAsset,
    ContentDownload,
    Course,
    Enrolment,
    Quiz,
    QuizAttempt,
    QuizAttemptGrant,
)
from events.models import OutboxEvent
from gates.models import (
    BenefitGrant,
    EvaluationRun,
    Gate,
    GateState,
    GateStatus,
    GateStatusChange,
    PartnerTier,
    SegmentMembership,
    TierChange,
)
from incentives.models import (
    CustomerActivation,
    IncentiveRule,
    LedgerEntry,
    LedgerTransition,
    Payout,
    Redemption,
    Reward,
    RuleKind,
)
from onboarding.models import (
    AgreementAcceptance,
    ChecklistItem,
    ChecklistItemKind,
    ChecklistTick,
    CompanyProfile,
    PartnerApplication,
    ProgramAgreement,
)
from partners.admin_coverage import CoverageAdminMixin, CoverageInlineMixin
from partners.models import (
    Certification,
    Distributor,
    EngagementActivity,
    ManagerProfile,
    Membership,
    MembershipRole,
    Partner,
    Person,
    Region,
    Sale,
    ServiceProficiency,
)
from partners.selectors import has_door
from programs.models import DefinitionQuerySet, Segment
from tests.factories import (
    BenefitFactory,
    CertificationFactory,
    DealFactory,
    DistributorFactory,
    EngagementActivityFactory,
    MembershipFactory,
    PartnerFactory,
    PersonFactory,
    ProgramFactory,
    SaleFactory,
    SegmentFactory,
    ServiceProficiencyFactory,
    TierFactory,
    UserFactory,
)
from webhooks.models import WebhookDelivery, WebhookSubscription

pytestmark = pytest.mark.django_db

User = get_user_model()
REGISTRY = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)

# Vendor-wide definitions and reference data: every staff member works on the
# same ones, so there is no "other region's" object to hide.
VENDOR_WIDE = {
    "auth.Group",
    # Sign-in records: no path to a partner, and only superusers hold their permissions.
    "axes.AccessAttempt",
    "axes.AccessFailureLog",
    "axes.AccessLog",
    "enablement.ContentAsset",
    "enablement.Course",
    "enablement.LearningPath",
    "enablement.Question",
    "enablement.Quiz",
    "gates.Gate",
    "gates.GateVersion",
    "programs.SegmentVersion",
    # News to partners: staff see and publish the same announcements.
    "inbox.Announcement",
    # A program's onboarding steps and agreement texts, the same for every partner.
    "onboarding.ChecklistItem",
    "onboarding.ProgramAgreement",
    "incentives.IncentivePeriod",
    "incentives.IncentiveRule",
    "partners.ActivityType",
    "partners.CertificationType",
    "partners.CustomerSegment",
    "core.ExchangeRate",
    "partners.ProductLine",
    "partners.ServiceOffering",
    "programs.Benefit",
    "programs.Program",
    "programs.Segment",
    "programs.Tier",
}

# Text that names the foreign organisation, its login or its manager.
FOREIGN_TEXT = ["Xolotl", "xander", "ludmila"]


class Shared:
    """Definitions both organisations' objects refer to."""

    def __init__(self):
        self.program = ProgramFactory(name="Partner Network", slug="network")
        self.tier = TierFactory(program=self.program, name="Silver", rank=1)
        self.benefit = BenefitFactory(program=self.program, name="Silver content")
        self.segment: Segment = SegmentFactory(name="Everyone")
        self.gate = Gate.objects.create(
            program=self.program,
            name="Silver gate",
            state=GateState.ACTIVE,
            unlocks_tier=self.tier,
            criteria={"metric": "certified_people", "op": ">=", "target": 1},
        )
        self.rule = IncentiveRule.objects.create(
            name="Points",
            kind=RuleKind.POINTS,
            program=self.program,
            currency="USD",
            effective_from=datetime.date(2025, 1, 1),
            points_multiplier=Decimal(1),
        )
        self.reward = Reward.objects.create(
            rule=self.rule, name="Voucher", points_cost=100, amount=Decimal("50.00")
        )
        self.course = Course.objects.create(title="Selling the platform", track="sales", duration_minutes=90)
        self.quiz = Quiz.objects.create(course=self.course)
        self.asset = ContentAsset.objects.create(
            title="Battle card", kind=AssetKind.LINK, url="https://cdn.example.com/card"
        )
        self.agreement = ProgramAgreement.objects.create(
            program=self.program, version=1, title="Network agreement", text="Terms."
        )
        self.checklist_item = ChecklistItem.objects.create(
            program=self.program, kind=ChecklistItemKind.PROFILE
        )


class Organisation:
    """One partner with its distributor, a login and one object of every partner-scoped model."""

    def __init__(self, shared: Shared, partner: Partner, *, login: str, manager, issuer):
        self.partner = partner
        self.distributor = partner.distributor
        self.membership = MembershipFactory(
            partner=partner,
            role=MembershipRole.ADMIN,
            user__username=login,
            user__email=f"{login}@org.example",
        )
        self.user = self.membership.user
        self.manager_profile = ManagerProfile.objects.get(user=manager)
        self.person = PersonFactory(partner=partner, first_name=partner.name.split()[0], last_name="Engineer")
        self.certification = CertificationFactory(person=self.person)
        self.sale = SaleFactory(partner=partner, customer_name=f"{partner.name} customer")
        self.activity = EngagementActivityFactory(partner=partner, points=50)
        self.proficiency = ServiceProficiencyFactory(partner=partner)
        now = timezone.now()
        today = timezone.localdate()
        self.run = EvaluationRun.objects.create(kind=EvaluationRun.Kind.PARTNER, partner=partner, as_of=today)
        self.gate_status = GateStatus.objects.create(
            partner=partner, gate=shared.gate, status="passed", measures=[1]
        )
        self.gate_change = GateStatusChange.objects.create(
            partner=partner, gate=shared.gate, from_status="failed", to_status="passed", measures=[1]
        )
        self.partner_tier = PartnerTier.objects.create(
            partner=partner, program=shared.program, tier=shared.tier, earned_tier=shared.tier
        )
        self.tier_change = TierChange.objects.create(
            partner=partner,
            program=shared.program,
            to_tier=shared.tier,
            reason="promoted",
            effective_on=today,
        )
        self.benefit_grant = BenefitGrant.objects.create(
            partner=partner, benefit=shared.benefit, via_tier=shared.tier
        )
        self.segment_membership = SegmentMembership.objects.create(segment=shared.segment, partner=partner)
        self.deal = DealFactory(partner=partner, customer_name=f"{partner.name} prospect", status="won")
        self.activation = CustomerActivation.objects.create(deal=self.deal, activated_on=today)
        self.mdf_period = MdfPeriod.objects.create(
            partner=partner,
            starts_on=today.replace(month=1, day=1),
            ends_on=today.replace(month=12, day=31),
            currency="USD",
            allowance=Decimal("10000.00"),
            requested=Decimal("500.00"),
        )
        self.mdf_request = MdfRequest.objects.create(
            partner=partner,
            period=self.mdf_period,
            title=f"{partner.name} webinar",
            activity_kind="event",
            starts_on=today,
            ends_on=today,
            amount=Decimal("500.00"),
            currency="USD",
        )
        self.mdf_entry = MdfLedgerEntry.objects.create(
            period=self.mdf_period,
            request=self.mdf_request,
            from_bucket="available",
            to_bucket="requested",
            amount=Decimal("500.00"),
            currency="USD",
        )
        self.payout = Payout.objects.create(
            partner=partner, currency="USD", amount=Decimal("10.00"), reference=f"PAY-{partner.pk}"
        )
        self.ledger_entry = LedgerEntry.objects.create(
            partner=partner,
            rule=shared.rule,
            source_type="activity",
            source_id=str(self.activity.pk),
            amount=Decimal("50"),
            currency="PTS",
            event_on=today,
            period=f"{today.year}-Q{(today.month - 1) // 3 + 1}",
            description=f"Points of {partner.name}",
            posted_at=now,
        )
        self.ledger_transition = LedgerTransition.objects.create(
            entry=self.ledger_entry, from_state="accrued", to_state="payable"
        )
        self.redemption = Redemption.objects.create(
            partner=partner, reward=shared.reward, points=100, amount=Decimal("50.00"), currency="USD"
        )
        self.token = token_issue(
            actor=issuer, name=f"{partner.name} sync", all_partners=False, partners=[partner]
        )[0]
        # A subscription of the organisation's manager, narrowed to its partner, and one delivery.
        self.webhook = WebhookSubscription.objects.create(
            owner=manager,
            url=f"https://hooks.example.com/{partner.pk}",
            description=f"{partner.name} feed",
            event_types=["partner.status_changed"],
        )
        self.webhook.partners.set([partner])
        event = OutboxEvent.objects.create(
            event_type="partner.status_changed", partner_id=partner.pk, data={"partner_name": partner.name}
        )
        self.webhook_delivery = WebhookDelivery.objects.create(subscription=self.webhook, event=event)
        self.enrolment = Enrolment.objects.create(person=self.person, course=shared.course)
        self.quiz_attempt = QuizAttempt.objects.create(
            person=self.person, quiz=shared.quiz, score_percent=80, passed=True
        )
        self.completion = Completion.objects.create(
            person=self.person, course=shared.course, completed_at=now
        )
        self.quiz_attempt_grant = QuizAttemptGrant.objects.create(
            person=self.person, quiz=shared.quiz, extra_attempts=1, granted_by=manager
        )
        self.content_download = ContentDownload.objects.create(
            asset=shared.asset, partner=partner, user=self.user
        )
        # Applications are seen by region: the organisation's own, accepted as this partner.
        self.application = PartnerApplication.objects.create(
            company=f"{partner.name} application",
            country=partner.country,
            region=partner.region,
            partner_type=partner.partner_type,
            business_model=partner.business_model,
            website="https://apply.example",
            contact_first_name=login,
            contact_last_name="Applicant",
            contact_email=f"{login}@apply.example",
            partner=partner,
        )
        self.checklist_tick = ChecklistTick.objects.create(
            partner=partner, item=shared.checklist_item, ticked_at=now
        )
        self.agreement_acceptance = AgreementAcceptance.objects.create(
            partner=partner,
            agreement=shared.agreement,
            accepted_by=self.user,
            signer_name=f"{login} signer",
            accepted_at=now,
        )
        self.company_profile = CompanyProfile.objects.create(
            partner=partner, description=f"{partner.name} profile"
        )


# model -> the attribute of ``Organisation`` holding its object.
SCOPED = {
    Partner: "partner",
    Distributor: "distributor",
    Membership: "membership",
    User: "user",
    ManagerProfile: "manager_profile",
    Person: "person",
    Certification: "certification",
    Sale: "sale",
    EngagementActivity: "activity",
    ServiceProficiency: "proficiency",
    EvaluationRun: "run",
    GateStatus: "gate_status",
    GateStatusChange: "gate_change",
    PartnerTier: "partner_tier",
    TierChange: "tier_change",
    BenefitGrant: "benefit_grant",
    SegmentMembership: "segment_membership",
    Deal: "deal",
    CustomerActivation: "activation",
    MdfPeriod: "mdf_period",
    MdfRequest: "mdf_request",
    MdfLedgerEntry: "mdf_entry",
    Payout: "payout",
    LedgerEntry: "ledger_entry",
    LedgerTransition: "ledger_transition",
    Redemption: "redemption",
    IntegrationToken: "token",
    WebhookSubscription: "webhook",
    WebhookDelivery: "webhook_delivery",
    Enrolment: "enrolment",
    QuizAttempt: "quiz_attempt",
    Completion: "completion",
    QuizAttemptGrant: "quiz_attempt_grant",
    ContentDownload: "content_download",
    PartnerApplication: "application",
    ChecklistTick: "checklist_tick",
    AgreementAcceptance: "agreement_acceptance",
    CompanyProfile: "company_profile",
}


class World:
    def __init__(self, channel_manager):
        shared = Shared()
        self.shared = shared
        ludmila = UserFactory(username="ludmila", email="ludmila@vendor.example", is_staff=True)
        ludmila.groups.set(channel_manager.groups.all())
        ManagerProfile.objects.create(user=ludmila, regions=[Region.LATIN_AMERICA])
        acme = PartnerFactory(
            name="Acme Cloud", distributor=DistributorFactory(name="Northwind", region=Region.EMEA)
        )
        quetzal = PartnerFactory(
            name="Xolotl Systems",
            country="BR",
            region=Region.LATIN_AMERICA,
            distributor=DistributorFactory(
                name="Xolotl Distribution", country="BR", region=Region.LATIN_AMERICA
            ),
        )
        self.covered = Organisation(
            shared, acme, login="pat", manager=channel_manager, issuer=channel_manager
        )
        self.foreign = Organisation(shared, quetzal, login="xander", manager=ludmila, issuer=ludmila)

    def foreign_of(self, model):
        return getattr(self.foreign, SCOPED[model]) if model in SCOPED else None


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """Logins are created per test; the production hasher's cost buys nothing here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(channel_manager):
    return World(channel_manager)


@pytest.fixture
def manager_client(client, channel_manager, world):
    client.force_login(channel_manager)
    return client


def _url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _snapshot(obj) -> list[dict]:
    return list(type(obj)._default_manager.filter(pk=obj.pk).values())


def _assert_says_nothing_of_the_foreign_organisation(response) -> None:
    content = response.content.decode()
    leaked = [text for text in FOREIGN_TEXT if text in content]
    assert not leaked, (response.request["PATH_INFO"], leaked)


def _assert_out_of_reach(response) -> None:
    """A missing object: the admin's redirect to its index, a 404, or a refusal."""
    assert response.status_code in (302, 403, 404), response.status_code
    if response.status_code == 302:
        assert response["Location"] == reverse("admin:index")


def _partner_paths(model, depth: int = 3) -> bool:
    """Whether ``model`` reaches ``Partner`` through forward foreign keys, one-to-ones or many-to-manys."""
    if model is Partner:
        return True
    if depth == 0:
        return False
    return any(
        field.is_relation
        and not field.auto_created
        and field.related_model not in (None, model)
        and _partner_paths(field.related_model, depth - 1)
        for field in model._meta.get_fields()
    )


# --- the classification ------------------------------------------------------------------------


def test_every_registered_model_is_classified():
    labels = {model._meta.label for model, _ in REGISTRY}
    scoped = {model._meta.label for model in SCOPED}
    unclassified = labels - scoped - VENDOR_WIDE
    assert not unclassified, f"say whether these admins are partner-scoped or vendor-wide: {unclassified}"
    for model, _ in REGISTRY:
        if model._meta.label in VENDOR_WIDE:
            assert not _partner_paths(model), f"{model._meta.label} reaches partners: it is not vendor-wide"
    for model in SCOPED:
        assert has_door(model), f"{model._meta.label} has no visible_to(user) door"


def test_every_model_with_a_path_to_a_partner_has_a_door():
    from django.apps import apps
    from pghistory.models import Event

    missing = [
        model._meta.label
        for model in apps.get_models()
        if model._meta.app_label
        in {"partners", "programs", "enablement", "gates", "deals", "incentives", "api"}
        # History rows are read only through history.selectors: per object behind the
        # admin's coverage, the whole log with the permission to read it.
        and not issubclass(model, Event)
        and _partner_paths(model)
        and not has_door(model)
    ]
    assert not missing, f"models reaching a partner without visible_to(user): {missing}"


def test_every_admin_and_inline_builds_on_the_coverage_mixins(superuser):
    request = RequestFactory().get("/admin/")
    request.user = superuser
    for model, model_admin in REGISTRY:
        assert isinstance(model_admin, CoverageAdminMixin), model._meta.label
        inlines = set(model_admin.inlines) | set(model_admin.get_inlines(request, None))
        for inline in inlines:
            assert issubclass(inline, CoverageInlineMixin), (model._meta.label, inline.__name__)


# --- the walk ----------------------------------------------------------------------------------

SCOPED_REGISTERED = [(model, model_admin) for model, model_admin in REGISTRY if model in SCOPED]


@pytest.mark.parametrize(
    ("model", "model_admin"), SCOPED_REGISTERED, ids=[m._meta.label for m, _ in SCOPED_REGISTERED]
)
def test_pages_show_and_touch_nothing_outside_coverage(manager_client, world, model, model_admin):
    foreign = world.foreign_of(model)
    covered = getattr(world.covered, SCOPED[model])
    before = _snapshot(foreign)

    response = manager_client.get(_url(model, "changelist"))
    assert response.status_code in (200, 403)
    if response.status_code == 200:
        listed = set(response.context["cl"].queryset.values_list("pk", flat=True))
        assert foreign.pk not in listed
        assert covered.pk in listed, "the walk must see the covered object, or it proves nothing"
        _assert_says_nothing_of_the_foreign_organisation(response)
        searched = manager_client.get(_url(model, "changelist"), {"q": "Xolotl"})
        assert foreign.pk not in set(searched.context["cl"].queryset.values_list("pk", flat=True))

    for view in ("change", "history", "delete"):
        _assert_out_of_reach(manager_client.get(_url(model, view, foreign.pk)))
    _assert_out_of_reach(manager_client.post(_url(model, "change", foreign.pk), {}))
    _assert_out_of_reach(manager_client.post(_url(model, "delete", foreign.pk), {"post": "yes"}))

    for action in model_admin.get_actions(_request_of(world)):
        response = manager_client.post(
            _url(model, "changelist"),
            {"action": action, "_selected_action": [foreign.pk], "post": "yes", "apply": "1", "reason": "x"},
        )
        assert response.status_code in (200, 302, 403), (action, response.status_code)
        _assert_says_nothing_of_the_foreign_organisation(response)

    assert _snapshot(foreign) == before


def _choice_fields(response):
    """(form prefix, field name, field) of every model choice field of the add page, inlines included."""
    fields = []
    form = response.context["adminform"].form
    fields += [
        ("", name, field) for name, field in form.fields.items() if isinstance(field, ModelChoiceField)
    ]
    for inline in response.context["inline_admin_formsets"]:
        empty = inline.formset.empty_form
        fields += [
            (inline.formset.prefix, name, field)
            for name, field in empty.fields.items()
            if isinstance(field, ModelChoiceField)
        ]
    return fields


@pytest.mark.parametrize(("model", "model_admin"), REGISTRY, ids=[m._meta.label for m, _ in REGISTRY])
def test_add_forms_refuse_what_is_outside_coverage(manager_client, world, model, model_admin):
    response = manager_client.get(_url(model, "add"))
    assert response.status_code in (200, 403)
    if response.status_code == 403:
        return
    _assert_says_nothing_of_the_foreign_organisation(response)
    management = {}
    for inline in response.context["inline_admin_formsets"]:
        prefix = inline.formset.prefix
        management.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    for prefix, name, field in _choice_fields(response):
        chosen = field.queryset.model
        foreign = world.foreign_of(chosen)
        if foreign is None:
            assert not _partner_paths(chosen) and chosen is not User, f"the world lacks a foreign {chosen}"
            continue
        assert not field.queryset.filter(pk=foreign.pk).exists(), (prefix, name)
        if prefix:
            continue  # an inline's field: its queryset is what validates it
        count = model._default_manager.count()
        posted = manager_client.post(_url(model, "add"), {**management, name: [foreign.pk]})
        assert posted.status_code in (200, 403), (name, posted.status_code)
        if posted.status_code == 200:
            errors = posted.context["adminform"].form.errors
            assert "Select a valid choice" in str(errors.get(name)), (name, errors.get(name))
        assert model._default_manager.count() == count


def _request_of(world):
    request = RequestFactory().get("/admin/")
    request.user = world.covered.manager_profile.user
    return request


def _autocomplete_fields():
    found = []
    for model, model_admin in REGISTRY:
        holders = [(model, model_admin.autocomplete_fields)]
        holders += [(inline.model, inline.autocomplete_fields) for inline in model_admin.inlines]
        for source, names in holders:
            found += [(source, name) for name in names]
    return sorted(set(found), key=lambda item: (item[0]._meta.label, item[1]))


AUTOCOMPLETES = _autocomplete_fields()


@pytest.mark.parametrize(
    ("source", "field_name"), AUTOCOMPLETES, ids=[f"{m._meta.label}.{n}" for m, n in AUTOCOMPLETES]
)
def test_autocompletes_offer_nothing_outside_coverage(manager_client, world, source, field_name):
    field = source._meta.get_field(field_name)
    response = manager_client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": source._meta.app_label,
            "model_name": source._meta.model_name,
            "field_name": field_name,
        },
    )
    assert response.status_code in (200, 403, 404)
    if response.status_code == 200:
        ids = {int(result["id"]) for result in response.json()["results"]}
        foreign = world.foreign_of(field.related_model)
        if foreign is not None:
            assert foreign.pk not in ids
            if not field.remote_field.limit_choices_to:
                covered = getattr(world.covered, SCOPED[field.related_model])
                assert covered.pk in ids, (
                    "the autocomplete must offer the covered object, or this proves nothing"
                )
        _assert_says_nothing_of_the_foreign_organisation(response)


# --- coverage itself ---------------------------------------------------------------------------


def test_a_manager_cannot_widen_his_own_coverage(manager_client, channel_manager, world):
    profile = ManagerProfile.objects.get(user=channel_manager)
    url = _url(ManagerProfile, "change", profile.pk)
    page = manager_client.get(url)
    assert page.status_code == 200 and not page.context["has_change_permission"]  # his own, read only
    response = manager_client.post(
        url, {"user": channel_manager.pk, "regions": '["emea", "latam", "na", "apac"]'}
    )
    assert response.status_code == 403
    profile.refresh_from_db()
    assert profile.regions == [Region.EMEA]
    assert manager_client.get(_url(ManagerProfile, "add")).status_code == 403
    assert manager_client.post(_url(ManagerProfile, "delete", profile.pk), {"post": "yes"}).status_code == 403
    assert ManagerProfile.objects.filter(pk=profile.pk).exists()
    seen = manager_client.get("/api/v1/partners/").json()
    assert [row["name"] for row in seen["results"]] == ["Acme Cloud"]


def test_a_manager_cannot_assign_partners_to_managers(manager_client, channel_manager, world):
    acme = world.covered.partner
    data = {
        "name": acme.name,
        "partner_type": acme.partner_type,
        "business_model": acme.business_model,
        "country": "GB",
        "region": acme.region,
        "status": acme.status,
        "distributor": acme.distributor_id,
        "channel_manager": world.foreign.manager_profile.user_id,
        "joined_on": acme.joined_on.isoformat(),
        "website": "",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        "people-TOTAL_FORMS": "0",
        "people-INITIAL_FORMS": "0",
        "proficiencies-TOTAL_FORMS": "0",
        "proficiencies-INITIAL_FORMS": "0",
    }
    response = manager_client.post(_url(Partner, "change", acme.pk), data)
    assert response.status_code == 302
    acme.refresh_from_db()
    assert acme.channel_manager_id is None  # the field is read only for him

    moved = manager_client.post(_url(Partner, "change", acme.pk), {**data, "region": Region.LATIN_AMERICA})
    assert moved.status_code == 200
    assert "would leave your coverage" in moved.content.decode()
    acme.refresh_from_db()
    assert acme.region == Region.EMEA


def test_a_coverage_granter_edits_profiles_and_assignments(client, world, channel_manager):
    from django.contrib.auth.models import Permission

    granter = UserFactory(username="gina", is_staff=True)
    granter.groups.set(channel_manager.groups.all())
    granter.user_permissions.add(Permission.objects.get(codename="grant_coverage"))
    ManagerProfile.objects.create(user=granter, regions=[Region.EMEA])
    client.force_login(granter)
    profile = ManagerProfile.objects.get(user=channel_manager)
    response = client.post(
        _url(ManagerProfile, "change", profile.pk),
        {"user": channel_manager.pk, "regions": '["emea", "apac"]'},
    )
    assert response.status_code == 302
    profile.refresh_from_db()
    assert profile.regions == ["emea", "apac"]
    # Managers, who are staff, are offered to him as the users he assigns.
    choices = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "partners", "model_name": "partner", "field_name": "channel_manager", "term": "morgan"},
    ).json()["results"]
    assert [int(row["id"]) for row in choices] == [channel_manager.pk]


def test_the_users_a_manager_sees_are_the_members_of_what_he_covers(manager_client, world, superuser):
    response = manager_client.get(_url(User, "changelist"))
    listed = set(response.context["cl"].queryset.values_list("username", flat=True))
    assert listed == {"pat"}  # not Xolotl's xander, not ludmila nor root, staff of the vendor
    assert "ludmila@vendor.example" not in response.content.decode()


def test_deleting_a_shared_distributor_names_no_foreign_partner(manager_client, world):
    shared = world.covered.distributor
    PartnerFactory(name="Xolotl Retail", country="BR", region=Region.LATIN_AMERICA, distributor=shared)
    page = manager_client.get(_url(Distributor, "delete", shared.pk))
    assert page.status_code == 200
    assert "Xolotl" not in page.content.decode()
    assert page.context["perms_lacking"] == {"partner"}  # the partner he does not cover
    manager_client.post(_url(Distributor, "delete", shared.pk), {"post": "yes"})
    assert Distributor.objects.filter(pk=shared.pk).exists()


def test_saving_an_unchanged_object_leaves_no_history(manager_client, world):
    from django.contrib.admin.models import LogEntry

    person = world.covered.person
    data = {
        "partner": person.partner_id,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "email": person.email,
        "job_title": "",
        "user": "",
        "is_active": "on",
        "external_id": "",
        "certifications-TOTAL_FORMS": "0",
        "certifications-INITIAL_FORMS": "0",
    }
    response = manager_client.post(_url(Person, "change", person.pk), {**data, "_continue": "1"})
    assert response.status_code == 302
    assert not LogEntry.objects.filter(object_id=str(person.pk)).exists()
    manager_client.post(_url(Person, "change", person.pk), {**data, "job_title": "Engineer"})
    assert LogEntry.objects.filter(object_id=str(person.pk)).count() == 1


# --- program managers: a program's definitions change in its managers' hands only ---------------

PROGRAM_SCOPED = sorted(
    f"{model._meta.app_label}_{model._meta.model_name}"
    for model, _ in REGISTRY
    if isinstance(model._default_manager.all(), DefinitionQuerySet)
    # Gate and segment versions are never changed or deleted, by anyone: a draft is written from
    # the gate's or segment's form and published by an action that keeps to the programs one
    # manages (tests/gates, tests/programs).
    and model._meta.label not in {"gates.GateVersion", "programs.SegmentVersion"}
)


def test_every_program_scoped_admin_has_a_definition_to_walk(program_definitions):
    assert set(PROGRAM_SCOPED) == set(program_definitions.objects())


@pytest.mark.parametrize("page", PROGRAM_SCOPED)
def test_a_programs_owner_edits_its_definitions_another_manager_reads_them(
    client, program_owner, other_program_manager, program_definitions, page
):
    obj = program_definitions.objects()[page]
    change = reverse(f"admin:{page}_change", args=[obj.pk])
    delete = reverse(f"admin:{page}_delete", args=[obj.pk])

    client.force_login(program_owner)
    assert client.get(reverse(f"admin:{page}_changelist")).status_code == 200
    own = client.get(change)
    assert own.status_code == 200
    assert own.context["has_change_permission"] is True
    assert client.get(delete).status_code == 200

    client.force_login(other_program_manager)
    assert client.get(reverse(f"admin:{page}_changelist")).status_code == 200
    theirs = client.get(change)
    assert theirs.status_code == 200
    assert theirs.context["has_change_permission"] is False  # read-only
    assert client.post(change, {"name": "Taken over"}).status_code == 403
    assert client.get(delete).status_code == 403
    assert client.post(delete, {"post": "yes"}).status_code == 403
    obj.refresh_from_db()
    assert getattr(obj, "name", "") != "Taken over"
