"""Writes to the content library: checking an upload, saving an asset, and counting a download.

A download is counted for the downloader's partner; when the asset names an activity type, the
partner's first download of it records an engagement activity (``enablement``,
``download:<id>``), which the points rules and activity SPIFs price after commit, as a
completion's does.
"""

import zipfile
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from core.audit import audit
from core.locks import transaction_lock
from enablement.models import ContentAsset, ContentDownload
from partners.models import EngagementActivity, Partner
from partners.signals import activities_changed

ACTIVITY_SOURCE = "enablement"


@dataclass(frozen=True)
class FileType:
    content_type: str
    label: str
    signature: bytes
    # For the formats that are zip archives: a member only that format has.
    member: str = ""


ZIP = b"PK\x03\x04"
# Extension -> what the file's own bytes must show. The browser's declared type is never trusted.
LIBRARY_TYPES: dict[str, FileType] = {
    "pdf": FileType("application/pdf", "PDF", b"%PDF-"),
    "png": FileType("image/png", "PNG", b"\x89PNG\r\n\x1a\n"),
    "jpg": FileType("image/jpeg", "JPEG", b"\xff\xd8\xff"),
    "jpeg": FileType("image/jpeg", "JPEG", b"\xff\xd8\xff"),
    "zip": FileType("application/zip", "zip archive", ZIP),
    "pptx": FileType(
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "PowerPoint presentation",
        ZIP,
        "ppt/presentation.xml",
    ),
    "docx": FileType(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "Word document",
        ZIP,
        "word/document.xml",
    ),
    "xlsx": FileType(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "Excel workbook",
        ZIP,
        "xl/workbook.xml",
    ),
}
LIBRARY_ACCEPT = ",".join(f".{extension}" for extension in LIBRARY_TYPES)


def _zip_members(upload) -> set[str] | None:
    """The names in a zip archive, or None when the bytes are not a readable one."""
    upload.seek(0)
    try:
        with zipfile.ZipFile(upload) as archive:
            return set(archive.namelist())
    except (zipfile.BadZipFile, OSError, EOFError):
        return None
    finally:
        upload.seek(0)


def validate_asset_file(upload) -> str:
    """Return the content type to serve the file with; raise ``ValidationError`` otherwise.

    The size must be within ``PRM_MAX_LIBRARY_UPLOAD_BYTES``, the extension one of
    ``LIBRARY_TYPES``, and the content must be of that type: its first bytes, and for the Office
    formats an archive holding the format's own part (a renamed zip is not a presentation).
    """
    limit = settings.PRM_MAX_LIBRARY_UPLOAD_BYTES
    if upload.size == 0:
        raise ValidationError("The file is empty.")
    if upload.size > limit:
        raise ValidationError(
            f"The file is {filesizeformat(upload.size)}; the limit is {filesizeformat(limit)}."
        )
    name = upload.name or ""
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    file_type = LIBRARY_TYPES.get(extension)
    if file_type is None:
        labels = sorted({kind.label for kind in LIBRARY_TYPES.values()})
        raise ValidationError(f"Upload one of: {', '.join(labels)}.")
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    if not head.startswith(file_type.signature):
        raise ValidationError(f"The file's content is not a {file_type.label}.")
    if file_type.signature == ZIP:
        members = _zip_members(upload)
        if members is None or (file_type.member and file_type.member not in members):
            raise ValidationError(f"The file's content is not a {file_type.label}.")
    return file_type.content_type


def asset_save(*, actor, asset: ContentAsset, created: bool, fields=()) -> ContentAsset:
    """Save a validated asset with an audit entry.

    Precondition: the asset passed ``full_clean`` and a new file passed ``validate_asset_file``
    (the admin's form does both and sets ``file_content_type`` and ``file_size``).
    """
    with transaction.atomic():
        asset.save()
        audit(
            actor=actor,
            action="content_asset.created" if created else "content_asset.changed",
            target=asset,
            fields=sorted(fields),
        )
    return asset


def asset_delete(*, actor, asset: ContentAsset) -> None:
    """Delete an asset, its downloads with it, and its file from storage after commit."""
    with transaction.atomic():
        audit(actor=actor, action="content_asset.deleted", target=asset, title=asset.title)
        stored = asset.file.name if asset.file else ""
        storage = asset.file.storage if asset.file else None
        asset.delete()
        if stored and storage is not None:
            transaction.on_commit(lambda: storage.delete(stored))


def download_activity_id(download_id: int) -> str:
    return f"download:{download_id}"


def asset_download_record(*, actor, asset: ContentAsset, partner: Partner) -> ContentDownload:
    """Count one download of ``asset`` for ``partner`` by ``actor``.

    The caller has checked the door (``ContentAsset.objects.actionable_by(user, "download")``).
    When the asset names an activity type and this is the partner's first download of it, an
    engagement activity is recorded: a partner earns once per asset, however often its people
    download it. Side effects: the download row; the activity and ``activities_changed``.
    """
    with transaction.atomic():
        if asset.download_activity_type_id is not None:
            # Serialise a partner's downloads of one asset, so two first ones at once record one activity.
            transaction_lock(f"enablement:download:{asset.pk}:{partner.pk}")
        earlier = list(
            ContentDownload.objects.filter(asset=asset, partner=partner).values_list("pk", flat=True)
        )
        download = ContentDownload.objects.create(
            asset=asset, partner=partner, user=actor if getattr(actor, "pk", None) else None
        )
        activity_type = asset.download_activity_type
        if activity_type is None:
            return download
        already = EngagementActivity.objects.filter(
            source=ACTIVITY_SOURCE, external_id__in=[download_activity_id(pk) for pk in earlier]
        ).exists()
        if already:
            return download
        activity = EngagementActivity.objects.create(
            partner=partner,
            activity_type=activity_type,
            points=asset.download_points
            if asset.download_points is not None
            else activity_type.default_points,
            occurred_on=timezone.localdate(download.downloaded_at),
            description=f"Downloaded {asset.title}"[:300],
            source=ACTIVITY_SOURCE,
            external_id=download_activity_id(download.pk),
        )
        audit(actor=actor, action="content_asset.download_activity", target=download, activity=activity.pk)
        activities_changed.send(sender=ContentDownload, activity_ids=[activity.pk])
    return download
