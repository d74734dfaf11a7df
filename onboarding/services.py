"""Writes of recruitment and onboarding: applying, deciding, the checklist and the move to active."""

from collections.abc import Collection, Iterable

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.services import invitation_request
from core.audit import audit
from core.states import require_move
from inbox.models import InboxKind
from inbox.services import items_create
from inbox.sources import NewItem
from onboarding.models import (
    AgreementAcceptance,
    ApplicationStatus,
    ChecklistItem,
    ChecklistTick,
    CompanyProfile,
    PartnerApplication,
    ProgramAgreement,
)
from onboarding.regions import region_of_country
from onboarding.selectors import open_programs, public_programs, system_done
from partners.members import membership_invite
from partners.models import (
    PARTNER_STATE_MOVES,
    LifecycleStatus,
    ManagerProfile,
    MembershipRole,
    Partner,
)
from partners.models.organisations import partner_move_refusal
from partners.services import partner_move
from partners.signals import facts_changed

ACTIVATED_REASON = "The onboarding checklist is complete."
NOT_PENDING = "This application was already decided."


def application_submit(*, address: str | None, programs: Iterable, **fields) -> PartnerApplication:
    """Record an application from the public page and tell the staff covering its region.

    ``fields`` are the application's own (company, country, partner type, business model,
    website, contacts, message), already validated by the form. Only programs open to every
    partner may be named (``public_programs``); others are dropped. The application's region
    follows its country. Nothing here looks up the contact's email: the answer is the same
    whether a login uses it or not. Side effects: an audit entry; an inbox item (and the
    email the manager chose for the kind) for each covering manager, or for the superusers when
    nobody covers the region.
    """
    with transaction.atomic():
        application = PartnerApplication(
            **fields, region=region_of_country(str(fields["country"])), submitted_from=address
        )
        application.full_clean(exclude=["programs"])
        application.save()
        application.programs.set(public_programs().filter(pk__in=[p.pk for p in programs]))
        audit(actor=None, action="application.submitted", target=application, region=application.region)
        _notify_covering_staff(application)
    return application


def _notify_covering_staff(application: PartnerApplication) -> None:
    users = get_user_model()._default_manager.filter(is_active=True, is_staff=True)
    # Managers are few: their regions are read whole rather than with a JSON lookup.
    covering = [
        user_id
        for user_id, regions in ManagerProfile.objects.filter(
            user__is_active=True, user__is_staff=True
        ).values_list("user_id", "regions")
        if application.region in (regions or [])
    ]
    recipients = covering or list(users.filter(is_superuser=True).values_list("pk", flat=True))
    link = reverse("admin:onboarding_partnerapplication_change", args=[application.pk])
    items_create(
        [
            NewItem(
                user_id=user_id,
                kind=InboxKind.APPLICATION,
                title=f"{application.company} applied to become a partner",
                body=f"{application.get_partner_type_display()} in {application.get_country_display()}, "
                f"contact {application.contact_name}. Accept or decline it in the admin.",
                link=link,
                subject_type="onboarding.partnerapplication",
                subject_id=application.pk,
                dedupe_key=f"application:{application.pk}",
            )
            for user_id in recipients
        ]
    )


def _decidable(actor, application: PartnerApplication) -> PartnerApplication:
    if not PartnerApplication.objects.visible_to(actor).filter(pk=application.pk).exists():
        raise PermissionDenied("You may not decide this application.")
    locked = PartnerApplication.objects.select_for_update().get(pk=application.pk)
    if locked.status != ApplicationStatus.PENDING:
        raise ValidationError(NOT_PENDING, code="conflict")
    if not PartnerApplication.objects.allows(actor, "decide", locked):
        raise PermissionDenied("You may not decide this application.")
    return locked


def application_accept(
    *, actor, application: PartnerApplication, reason: str, domain: str, use_https: bool
) -> Partner:
    """Accept a pending application: the partner, its first admin and the invitation.

    Preconditions: the door's ``decide`` (``PermissionDenied``); the application is pending
    (a ``conflict``); no login uses the contact's email (a ``conflict`` on ``contact_email``,
    from ``membership_invite``: an existing login is never taken over). The partner is created
    a prospect and moved to onboarding (the move audited with the reason), with the accepting
    manager as its channel manager; the contact becomes its admin, with a person record, and is
    emailed after commit the single-use, expiring link to choose a password (the invitation of
    ``accounts``). Audited.
    """
    with transaction.atomic():
        locked = _decidable(actor, application)
        partner = Partner(
            name=locked.company,
            partner_type=locked.partner_type,
            business_model=locked.business_model,
            country=locked.country,
            region=locked.region,
            website=locked.website,
            status=LifecycleStatus.PROSPECT,
            channel_manager=actor if actor.is_staff else None,
        )
        partner.full_clean()
        partner.save()
        audit(actor=actor, action="partner.created", target=partner, application=locked.pk)
        partner_move(
            actor=actor,
            partner=partner,
            status=LifecycleStatus.ONBOARDING,
            reason=f"Application accepted: {reason}",
        )
        CompanyProfile.objects.create(partner=partner, phone=locked.contact_phone)
        try:
            membership = membership_invite(
                actor=actor,
                partner=partner,
                email=locked.contact_email,
                role=MembershipRole.ADMIN,
                first_name=locked.contact_first_name,
                last_name=locked.contact_last_name,
            )
        except ValidationError as exc:
            messages = exc.message_dict.get("email", exc.messages)
            raise ValidationError({"contact_email": messages}, code="conflict") from exc
        locked.status = ApplicationStatus.ACCEPTED
        locked.partner = partner
        locked.decision_reason = reason
        locked.decided_by = actor
        locked.decided_at = timezone.now()
        locked.save(update_fields=["status", "partner", "decision_reason", "decided_by", "decided_at"])
        audit(actor=actor, action="application.accepted", target=locked, partner=partner.pk, reason=reason)
        invitation_request(
            email=membership.user.email,
            domain=domain,
            use_https=use_https,
            inviter=actor.get_full_name() or actor.get_username(),
            organisation=str(partner),
        )
    application.refresh_from_db()
    return partner


def application_decline(*, actor, application: PartnerApplication, reason: str) -> PartnerApplication:
    """Decline a pending application, with the reason the record keeps. The same preconditions as
    ``application_accept``; a reason is required (``ValidationError``). Audited."""
    if not reason.strip():
        raise ValidationError({"decision_reason": "Say why the application is declined."})
    with transaction.atomic():
        locked = _decidable(actor, application)
        locked.status = ApplicationStatus.DECLINED
        locked.decision_reason = reason.strip()
        locked.decided_by = actor
        locked.decided_at = timezone.now()
        locked.save(update_fields=["status", "decision_reason", "decided_by", "decided_at"])
        audit(actor=actor, action="application.declined", target=locked, reason=locked.decision_reason)
    application.refresh_from_db()
    return locked


def agreement_accept(
    *,
    actor,
    partner: Partner,
    agreement: ProgramAgreement,
    signer_name: str,
    signer_title: str = "",
    address: str | None,
) -> AgreementAcceptance:
    """Record that ``actor``, signing as ``signer_name``, accepted this version of a program's
    agreement for ``partner``, with the time and the address it came from.

    Preconditions: the partner's door ``onboard`` (its admins; ``PermissionDenied``); the
    agreement is the current version of a program open to the partner (``ValidationError``).
    Accepting the same version again changes nothing. Side effects: an audit entry; the
    checklist is looked at again, which may tick the item and make the partner active.
    """
    if not Partner.objects.allows(actor, "onboard", partner):
        raise PermissionDenied("Only the partner's admins accept its program agreements.")
    if not signer_name.strip():
        raise ValidationError({"signer_name": "Type your full name to accept the agreement."})
    current = (
        ProgramAgreement.objects.filter(program=agreement.program_id)
        .order_by("-version")
        .values("pk")
        .first()
    )
    if (
        current is None
        or current["pk"] != agreement.pk
        or not open_programs(partner).filter(pk=agreement.program_id).exists()
    ):
        raise ValidationError("This is not the current agreement of a program open to you.")
    with transaction.atomic():
        acceptance, created = AgreementAcceptance.objects.get_or_create(
            partner=partner,
            agreement=agreement,
            defaults={
                "accepted_by": actor,
                "signer_name": signer_name.strip(),
                "signer_title": signer_title.strip(),
                "accepted_at": timezone.now(),
                "ip_address": address,
            },
        )
        if created:
            audit(
                actor=actor,
                action="agreement.accepted",
                target=acceptance,
                partner=partner.pk,
                agreement=agreement.pk,
                version=agreement.version,
                signer_name=acceptance.signer_name,
                ip_address=address,
            )
            checklists_refresh(partner_ids=[partner.pk], actor=actor)
    return acceptance


def company_profile_save(
    *, actor, partner: Partner, website: str, description: str, phone: str, address: str
) -> CompanyProfile:
    """Save the partner's company profile (its website is the partner's own field). The door's
    ``onboard`` decides (its admins; ``PermissionDenied``). Audited; the checklist follows."""
    if not Partner.objects.allows(actor, "onboard", partner):
        raise PermissionDenied("Only the partner's admins edit its company profile.")
    with transaction.atomic():
        locked = Partner.objects.select_for_update().get(pk=partner.pk)
        if locked.website != website:
            locked.website = website
            locked.full_clean()
            locked.save(update_fields=["website", "updated_at"])
        profile, _ = CompanyProfile.objects.get_or_create(partner=locked)
        profile.description, profile.phone, profile.address = description, phone, address
        profile.full_clean()
        profile.save()
        audit(actor=actor, action="company_profile.saved", target=profile, partner=partner.pk)
        checklists_refresh(partner_ids=[partner.pk], actor=actor)
    partner.website = website
    return profile


def checklist_tick(*, actor, partner: Partner, item: ChecklistItem, ticked: bool, note: str = "") -> bool:
    """Tick (or untick) an item by hand for a partner: what the system cannot tell, or a manager's
    correction. Staff holding ``onboarding.change_checklisttick`` for the partners they see
    (``PermissionDenied``); the item belongs to a program open to the partner
    (``ValidationError``). Returns whether anything changed. Audited; ticking the last item
    makes an onboarding partner active."""
    user = actor
    if not (
        user.is_staff
        and user.has_perm("onboarding.change_checklisttick")
        and Partner.objects.visible_to(actor).filter(pk=partner.pk).exists()
    ):
        raise PermissionDenied("You may not tick this partner's onboarding checklist.")
    if not open_programs(partner).filter(pk=item.program_id).exists():
        raise ValidationError({"item": "This item belongs to a program the partner does not see."})
    with transaction.atomic():
        existing = ChecklistTick.objects.select_for_update().filter(partner=partner, item=item).first()
        if ticked == (existing is not None):
            return False
        if ticked:
            tick = ChecklistTick.objects.create(
                partner=partner, item=item, ticked_at=timezone.now(), ticked_by=actor, note=note
            )
            audit(actor=actor, action="checklist.ticked", target=tick, partner=partner.pk, item=item.pk)
            _activate_if_complete(actor=actor, partner_ids=[partner.pk])
        else:
            assert existing is not None
            audit(actor=actor, action="checklist.unticked", target=existing, partner=partner.pk, item=item.pk)
            existing.delete()
    return True


def checklists_refresh(*, partner_ids: Collection[int], actor=None) -> int:
    """Tick what the system can tell for these partners' onboarding (an agreement accepted, the
    profile complete, a colleague invited, the course completed, a first deal registered), then
    make active those whose checklist is complete. Only partners in onboarding are looked at;
    safe to repeat (a tick is made once). ``actor`` is whoever caused it, None for the system.
    Returns how many items were ticked."""
    partners = list(Partner.objects.filter(pk__in=list(partner_ids), status=LifecycleStatus.ONBOARDING))
    ticked = 0
    with transaction.atomic():
        for partner in partners:
            items = list(ChecklistItem.objects.filter(program__in=open_programs(partner)))
            already = set(ChecklistTick.objects.filter(partner=partner).values_list("item_id", flat=True))
            due = [item for item in items if item.pk not in already]
            done = system_done(partner, due)
            now = timezone.now()
            ChecklistTick.objects.bulk_create(
                [
                    ChecklistTick(partner=partner, item=item, ticked_at=now, note="Ticked by the system.")
                    for item in due
                    if item.pk in done
                ],
                ignore_conflicts=True,
            )
            if done:
                audit(actor=actor, action="checklist.ticked_by_system", target=partner, items=sorted(done))
            ticked += len(done)
        _activate_if_complete(actor=actor, partner_ids=[partner.pk for partner in partners])
    return ticked


def _activate_if_complete(*, actor, partner_ids: Collection[int]) -> None:
    """Move to active the partners in onboarding whose every checklist item is ticked (a partner
    whose programs define no checklist stays: its manager activates it)."""
    for partner in Partner.objects.filter(pk__in=list(partner_ids), status=LifecycleStatus.ONBOARDING):
        items = set(
            ChecklistItem.objects.filter(program__in=open_programs(partner)).values_list("pk", flat=True)
        )
        ticks = set(
            ChecklistTick.objects.filter(partner=partner, item__in=items).values_list("item_id", flat=True)
        )
        if items and items <= ticks:
            _partner_activate(actor=actor, partner=partner)


def _partner_activate(*, actor, partner: Partner) -> None:
    """The move the completed checklist decides, whoever's action completed it (the partner's admin,
    a manager, the system): the rule is the authority, not the actor's rights on the partner.
    Audited as every move of the lifecycle, with the reason."""
    locked = Partner.objects.select_for_update().get(pk=partner.pk)
    if locked.status != LifecycleStatus.ONBOARDING:
        return
    require_move(
        PARTNER_STATE_MOVES,
        locked.status,
        LifecycleStatus.ACTIVE,
        refused=partner_move_refusal(locked.status, LifecycleStatus.ACTIVE),
    )
    locked.status = LifecycleStatus.ACTIVE
    locked.save(update_fields=["status", "updated_at"])
    audit(
        actor=actor,
        action="partner.status_changed",
        target=locked,
        before=LifecycleStatus.ONBOARDING.value,
        after=LifecycleStatus.ACTIVE.value,
        reason=ACTIVATED_REASON,
    )
    facts_changed.send(sender=Partner, partner_ids=[locked.pk])


def colleague_invite(
    *,
    actor,
    partner: Partner,
    email: str,
    role: str,
    first_name: str = "",
    last_name: str = "",
    domain: str,
    use_https: bool,
):
    """Invite a colleague into the partner's team from the portal: the login, its membership and
    person record (``partners.members.membership_invite``, which checks the door: the partner's
    admins), the invitation emailed after commit, and the checklist looked at again (a colleague
    invited ticks its item)."""
    with transaction.atomic():
        membership = membership_invite(
            actor=actor, partner=partner, email=email, role=role, first_name=first_name, last_name=last_name
        )
        invitation_request(
            email=membership.user.email,
            domain=domain,
            use_https=use_https,
            inviter=actor.get_full_name() or actor.get_username(),
            organisation=str(partner),
        )
        checklists_refresh(partner_ids=[partner.pk], actor=actor)
    return membership


def definition_save(*, actor, definition: ChecklistItem | ProgramAgreement, created: bool, fields=()) -> None:
    """Save a validated checklist item or agreement version of a program (the admin's form ran
    ``full_clean``: an accepted version refuses edits there). Audited."""
    name = definition._meta.model_name
    with transaction.atomic():
        definition.save()
        audit(
            actor=actor,
            action=f"{name}.created" if created else f"{name}.changed",
            target=definition,
            program=definition.program_id,
            fields=sorted(fields),
        )


def definition_delete(*, actor, definition: ChecklistItem | ProgramAgreement) -> None:
    """Delete a checklist item (its ticks go with it) or an agreement version nobody accepted (the
    database protects an accepted one). Audited."""
    with transaction.atomic():
        audit(
            actor=actor,
            action=f"{definition._meta.model_name}.deleted",
            target=definition,
            program=definition.program_id,
        )
        definition.delete()
