"""The events of partners: joined, lifecycle status changed.

Partners are saved by the admin, the API and the demo through the model
itself, so the events come from the model's save signals (connected in
``PartnersConfig.ready``), inside the saving transaction when there is one.
"""

from events.outbox import emit
from partners.models import Partner


def _data(partner: Partner) -> dict:
    return {"partner_id": partner.pk, "partner_name": partner.name}


def remember_stored_status(*, sender, instance: Partner, raw: bool = False, **_kwargs) -> None:
    """Before a save: the status as stored, to tell a change (one query for an existing partner)."""
    if raw or instance.pk is None:
        instance._stored_status = None  # type: ignore[attr-defined]
        return
    instance._stored_status = (  # type: ignore[attr-defined]
        Partner.objects.filter(pk=instance.pk).values_list("status", flat=True).first()
    )


def partner_saved(*, sender, instance: Partner, created: bool, raw: bool = False, **_kwargs) -> None:
    if raw:
        return
    if created:
        data = {
            **_data(instance),
            "partner_type": instance.partner_type,
            "region": instance.region,
            "country": str(instance.country),
            "status": instance.status,
        }
        emit("partner.created", data=data, partner_id=instance.pk)
        return
    before = getattr(instance, "_stored_status", None)
    if before is not None and before != instance.status:
        data = {**_data(instance), "from_status": before, "to_status": instance.status}
        emit("partner.status_changed", data=data, partner_id=instance.pk)
