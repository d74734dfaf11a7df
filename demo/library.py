"""Demo content library: decks, battle cards and campaign kits, some limited by tier or region.

Keyed on titles, so seeding twice changes nothing. Every demo tier grants the "Content library"
benefit, so Acme sees the assets that ask for it; the Platinum playbook and the APAC kit show the
limits at work (Acme is Gold, not Platinum, and in EMEA).
"""

import io
import zipfile

from django.core.files.base import ContentFile

from enablement.models import AssetCategory, AssetKind, ContentAsset
from partners.models import ActivityType, ProductLine, Region
from programs.models import Tier

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _kit() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "Co-branded webinar kit: banners, e-mails and the slide template.")
    return buffer.getvalue()


# (title, category, kind, file name or address, tags, product lines, description)
ASSETS = [
    (
        "Platform overview deck",
        AssetCategory.SALES_DECK,
        AssetKind.FILE,
        "platform-overview.pdf",
        "pitch, overview",
        ["cloud"],
        "The first-meeting deck: what the platform does and for whom.",
    ),
    (
        "Battle card: against the legacy suites",
        AssetCategory.BATTLE_CARD,
        AssetKind.LINK,
        "https://content.example.com/battle-cards/legacy-suites",
        "competitor, objections",
        ["cloud", "security"],
        "How to win against the incumbents, objection by objection.",
    ),
    (
        "Co-branded webinar kit",
        AssetCategory.CAMPAIGN_KIT,
        AssetKind.FILE,
        "webinar-kit.zip",
        "campaign, webinar",
        ["security"],
        "Banners, invitation e-mails and the slide template, ready for your logo.",
    ),
]


def _asset(title, category, kind, source, tags, lines, description) -> ContentAsset:
    asset = ContentAsset.objects.filter(title=title).first()
    if asset is not None:
        return asset
    asset = ContentAsset(
        title=title,
        category=category,
        kind=kind,
        tags=tags,
        description=description,
        needs_content_access=True,
    )
    if kind == AssetKind.LINK:
        asset.url = source
    else:
        content = _kit() if source.endswith(".zip") else PDF
        asset.file.save(source, ContentFile(content), save=False)
        asset.file_name = source
        asset.file_content_type = "application/zip" if source.endswith(".zip") else "application/pdf"
        asset.file_size = len(content)
    asset.save()
    asset.product_lines.set(ProductLine.objects.filter(code__in=lines))
    return asset


def seed_library() -> None:
    for spec in ASSETS:
        _asset(*spec)
    kit = ContentAsset.objects.get(title="Co-branded webinar kit")
    if kit.download_activity_type_id is None:
        kit.download_activity_type = ActivityType.objects.filter(code="co-marketing").first()
        kit.download_points = 5
        kit.save()
    playbook = _asset(
        "Platinum partners: co-selling playbook",
        AssetCategory.OTHER,
        AssetKind.LINK,
        "https://content.example.com/playbooks/platinum-co-selling",
        "co-selling, accounts",
        [],
        "How to run a joint account plan with the vendor's account teams.",
    )
    playbook.tiers.set(Tier.objects.filter(name="Platinum"))
    apac = _asset(
        "APAC launch kit",
        AssetCategory.CAMPAIGN_KIT,
        AssetKind.LINK,
        "https://content.example.com/kits/apac-launch",
        "campaign, launch",
        [],
        "The regional launch campaign for Asia Pacific.",
    )
    if apac.regions != [Region.APAC]:
        apac.regions = [Region.APAC]
        apac.save()
