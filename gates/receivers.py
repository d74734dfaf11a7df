"""Receivers of the signals gates listen to, connected in ``GatesConfig.ready``.

Definitions (programs, tiers, segments, reference data, exchange rates) are
watched through Django's model signals: a change makes every partner's
results stale. Facts announce themselves through ``partners.signals.facts_changed``.
"""

from django.apps import apps
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from gates import services
from gates.subjects import bump_generation

# What a decision reads besides the facts. A change to any of them makes every
# partner's results stale: evaluations reload them and every partner is
# decided again. Gates are re-evaluated by the gate services, which know
# whether an edit was only cosmetic (a name, a description).
DEFINITION_MODELS = (
    ("gates", "Gate"),
    ("programs", "Program"),
    ("programs", "Tier"),
    ("programs", "Benefit"),
    ("programs", "Segment"),
    ("partners", "ProductLine"),
    ("partners", "CertificationType"),
    ("partners", "ActivityType"),
    ("partners", "ServiceOffering"),
    ("partners", "CustomerSegment"),
    ("core", "ExchangeRate"),
    # Completions count by a course's code, track, product lines and duration.
    ("enablement", "Course"),
)


def definitions_changed(sender=None, action: str | None = None, **_kwargs) -> None:
    """Signal receiver: a definition changed; after commit, evaluations reload them and re-decide.

    The generation moves only once the change is committed: a worker that
    reloaded before the commit would otherwise cache the old definitions
    under the new generation. Every definition but a gate also queues a
    re-evaluation of every partner (coalesced, see
    ``services.request_full_evaluation``).
    """
    if action is not None and not action.startswith("post_"):
        return  # m2m_changed: act once the relation has changed
    transaction.on_commit(bump_generation)
    gate = apps.get_model("gates", "Gate")
    if sender not in (gate, gate.prerequisites.through, gate.unlocks_benefits.through):
        services.request_full_evaluation()


def connect_definition_signals() -> None:
    for app_label, model_name in DEFINITION_MODELS:
        model = apps.get_model(app_label, model_name)
        post_save.connect(definitions_changed, sender=model, dispatch_uid=f"definitions-{model_name}-save")
        post_delete.connect(
            definitions_changed, sender=model, dispatch_uid=f"definitions-{model_name}-delete"
        )
    for through in (
        apps.get_model("gates", "Gate").prerequisites.through,
        apps.get_model("gates", "Gate").unlocks_benefits.through,
        apps.get_model("programs", "Benefit").tiers.through,
        apps.get_model("enablement", "Course").product_lines.through,
    ):
        m2m_changed.connect(
            definitions_changed, sender=through, dispatch_uid=f"definitions-{through.__name__}"
        )


def on_facts_changed(sender=None, partner_ids=(), **_kwargs) -> None:
    """``partners.signals.facts_changed``: re-evaluate these partners once, after commit."""
    services.request_reevaluation(partner_ids)
