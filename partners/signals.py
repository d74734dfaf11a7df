"""Extension points of partners and their facts.

``facts_changed`` is sent when facts of some partners (sales, certifications,
engagement activities, service proficiencies) were created, changed or
deleted, by ingestion or by hand in the admin. It is
sent inside the transaction that changed them (or just after it), so a
receiver defers its work until commit. The gates connect it in their
``AppConfig.ready`` and re-evaluate those partners; partners never import the
gates.
"""

from django.dispatch import Signal

# Sent with sender=the fact model, partner_ids=a collection of partner ids.
facts_changed = Signal()

# Sent with sender=the model whose fact recorded or removed them, activity_ids=a collection of
# EngagementActivity ids (removed ones included), inside the transaction. Incentives price them
# after commit (points, activity SPIFs); the daily run would otherwise settle them later.
activities_changed = Signal()
