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
