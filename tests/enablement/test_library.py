"""The content library: who sees an asset (the one rule), what an upload must be, and downloads.

An asset limited by programs, tiers, segments, partner types or regions is open to a partner
meeting one limit of each kind; one asking for "content access" to a partner holding that benefit
(of one of the asset's programs when it has any). Files are checked by their bytes, stored under
random names and served with the download headers; each download is counted for the partner, and
the first one of an asset may record an engagement activity that the incentives engine prices.
"""

import io
import zipfile

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.models import AuditEntry
from enablement.library import asset_download_record, validate_asset_file
from enablement.models import AssetKind, ContentAsset, ContentDownload
from gates.models import BenefitGrant, PartnerTier, SegmentMembership
from incentives.models import LedgerEntry, SpifTrigger
from partners.models import EngagementActivity, PartnerType, Region
from programs.models import BenefitKind
from tests.deals.helpers import grant
from tests.factories import (
    ActivityTypeFactory,
    ProductLineFactory,
    ProgramFactory,
    SegmentFactory,
    TierFactory,
)
from tests.incentives.helpers import points_rule, spif_rule

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n% a deck\n"


def _zip(*members: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member in members:
            archive.writestr(member, "<xml/>")
    return buffer.getvalue()


def link(title: str = "Battle card", **values) -> ContentAsset:
    values.setdefault("needs_content_access", False)
    return ContentAsset.objects.create(
        title=title, kind=AssetKind.LINK, url="https://cdn.example.com/x", **values
    )


def deck(title: str = "Sales deck", content: bytes = PDF, **values) -> ContentAsset:
    values.setdefault("needs_content_access", False)
    upload = SimpleUploadedFile("Q3 deck.pdf", content)
    return ContentAsset.objects.create(
        title=title,
        kind=AssetKind.FILE,
        file=upload,
        file_name="Q3 deck.pdf",
        file_content_type=validate_asset_file(upload),
        file_size=len(content),
        **values,
    )


def seen(user) -> set[str]:
    return set(ContentAsset.objects.visible_to(user).values_list("title", flat=True))


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


# --- who sees an asset ------------------------------------------------------------------------------


def test_an_unlimited_asset_is_open_to_every_partner_user_and_staff_but_no_distributor(
    partner_admin, other_partner_admin, distributor_user, channel_manager
):
    link("For everyone")
    assert seen(partner_admin) == seen(other_partner_admin) == seen(channel_manager) == {"For everyone"}
    assert seen(distributor_user) == set()


def test_inactive_and_future_assets_are_hidden_from_partners_not_from_staff(partner_admin, channel_manager):
    import datetime

    from django.utils import timezone

    link("Retired", is_active=False)
    link("Next quarter", published_from=timezone.now() + datetime.timedelta(days=3))
    link("Out now", published_from=timezone.now() - datetime.timedelta(days=3))
    assert seen(partner_admin) == {"Out now"}
    assert seen(channel_manager) == {"Retired", "Next quarter", "Out now"}


def test_partner_types_and_regions_limit_an_asset(partner, other_partner, partner_admin, other_partner_admin):
    # Acme: reseller in EMEA; Globex: reseller in North America.
    link("EMEA only", regions=[Region.EMEA])
    link("MSSPs only", partner_types=[PartnerType.MSSP])
    link("Resellers in the Americas", partner_types=[PartnerType.RESELLER], regions=[Region.NORTH_AMERICA])
    assert seen(partner_admin) == {"EMEA only"}
    assert seen(other_partner_admin) == {"Resellers in the Americas"}
    other_partner.partner_type = PartnerType.MSSP
    other_partner.save()
    fresh = type(other_partner_admin).objects.get(pk=other_partner_admin.pk)  # the membership is cached
    assert seen(fresh) == {"MSSPs only"}


def test_programs_tiers_and_segments_limit_an_asset_as_they_limit_courses(partner, partner_admin):
    program = ProgramFactory()
    hidden_program = ProgramFactory(segment=SegmentFactory(name="Nobody"))
    silver = TierFactory(program=program, name="Silver", rank=1)
    gold = TierFactory(program=program, name="Gold", rank=2)
    segment = SegmentFactory(name="Cloud")
    link("Program", needs_content_access=False).programs.set([program])
    link("Hidden program").programs.set([hidden_program])
    link("Silver and up").tiers.set([silver])
    link("Gold and up").tiers.set([gold])
    link("Cloud segment").segments.set([segment])
    assert seen(partner_admin) == {"Program"}
    PartnerTier.objects.create(partner=partner, program=program, tier=silver, earned_tier=silver)
    SegmentMembership.objects.create(segment=segment, partner=partner)
    assert seen(partner_admin) == {"Program", "Silver and up", "Cloud segment"}


def test_content_access_needs_the_benefit_of_one_of_the_assets_programs(partner, partner_admin):
    program = ProgramFactory()
    other_program = ProgramFactory()
    link("Any content access", needs_content_access=True)
    link("Content access of the program", needs_content_access=True).programs.set([program])
    assert seen(partner_admin) == set()
    # A content-access benefit of another program opens the unlimited asset only.
    grant(partner, BenefitKind.CONTENT, program=other_program)
    assert seen(partner_admin) == {"Any content access"}
    # Another kind of benefit of the program opens nothing more.
    grant(partner, BenefitKind.CO_SELLING, program=program)
    assert seen(partner_admin) == {"Any content access"}
    held = grant(partner, BenefitKind.CONTENT, program=program)
    assert seen(partner_admin) == {"Any content access", "Content access of the program"}
    # A revoked grant opens nothing.
    from django.utils import timezone

    BenefitGrant.objects.filter(pk=held.pk).update(revoked_at=timezone.now())
    assert seen(partner_admin) == {"Any content access"}


def test_a_file_or_a_link_never_both():
    asset = ContentAsset(title="Both", kind=AssetKind.LINK, url="https://x.example.com", file="library/x.pdf")
    with pytest.raises(ValidationError) as caught:
        asset.full_clean()
    assert "file" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        ContentAsset(title="Empty", kind=AssetKind.FILE).full_clean()
    assert "file" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        ContentAsset(
            title="Odd", kind=AssetKind.LINK, url="https://x.example.com", regions=["mars"]
        ).full_clean()
    assert caught.value.message_dict["regions"] == ["Unknown regions: mars."]


# --- uploads ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("deck.pdf", PDF, "application/pdf"),
        ("card.png", b"\x89PNG\r\n\x1a\n....", "image/png"),
        ("kit.zip", _zip("banner.png"), "application/zip"),
        (
            "deck.pptx",
            _zip("[Content_Types].xml", "ppt/presentation.xml"),
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ),
    ],
)
def test_an_upload_is_typed_by_its_content(name, content, content_type):
    assert validate_asset_file(SimpleUploadedFile(name, content, content_type="text/html")) == content_type


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("deck.pdf", b"<html><script>alert(1)</script>", "The file's content is not a PDF."),
        ("deck.pptx", _zip("word/document.xml"), "The file's content is not a PowerPoint presentation."),
        ("kit.zip", b"PK\x03\x04 not really", "The file's content is not a zip archive."),
        ("page.html", b"<html>", "Upload one of:"),
        ("deck", PDF, "Upload one of:"),
        ("empty.pdf", b"", "The file is empty."),
    ],
)
def test_an_upload_that_is_not_what_it_says_is_refused(name, content, message):
    with pytest.raises(ValidationError) as caught:
        validate_asset_file(SimpleUploadedFile(name, content))
    assert caught.value.messages[0].startswith(message)


def test_an_upload_over_the_limit_is_refused(settings):
    settings.PRM_MAX_LIBRARY_UPLOAD_BYTES = 10
    with pytest.raises(ValidationError) as caught:
        validate_asset_file(SimpleUploadedFile("deck.pdf", PDF))
    assert "the limit is 10\xa0bytes" in caught.value.messages[0]


def test_stored_files_have_random_names():
    first, second = deck("One"), deck("Two")
    assert first.file.name.startswith("library/") and first.file.name.endswith(".pdf")
    assert "Q3" not in first.file.name and first.file.name != second.file.name


# --- downloads ----------------------------------------------------------------------------------------


def test_a_download_is_served_with_its_name_type_and_nosniff_and_counted(client, partner, partner_admin):
    asset = deck()
    client.force_login(partner_admin)
    response = client.get(reverse("portal:library_download", args=[asset.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="Q3 deck.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert list(ContentDownload.objects.values_list("asset", "partner", "user")) == [
        (asset.pk, partner.pk, partner_admin.pk)
    ]


def test_a_link_redirects_and_is_counted(client, partner, partner_sales):
    asset = link()
    client.force_login(partner_sales)
    response = client.get(reverse("portal:library_download", args=[asset.pk]))
    assert response.status_code == 302 and response["Location"] == "https://cdn.example.com/x"
    assert ContentDownload.objects.filter(asset=asset, partner=partner, user=partner_sales).count() == 1


def test_an_asset_out_of_sight_answers_404_and_counts_nothing(
    client, other_partner_admin, distributor_user, channel_manager
):
    asset = deck(regions=[Region.EMEA])
    for user in (other_partner_admin, distributor_user, channel_manager):
        client.force_login(user)
        assert client.get(reverse("portal:library_download", args=[asset.pk])).status_code == 404
    assert client.get(reverse("portal:library_download", args=[asset.pk + 1000])).status_code == 404
    assert not ContentDownload.objects.exists()


def test_downloads_are_read_through_their_door(
    partner, other_partner, partner_admin, partner_sales, channel_manager
):
    asset = link()
    asset_download_record(actor=partner_admin, asset=asset, partner=partner)
    asset_download_record(actor=partner_sales, asset=asset, partner=partner)
    other = asset_download_record(actor=None, asset=asset, partner=other_partner)
    # A partner admin sees the team's, a seller their own, a manager of EMEA Acme's only.
    assert ContentDownload.objects.visible_to(partner_admin).count() == 2
    assert list(ContentDownload.objects.visible_to(partner_sales).values_list("user", flat=True)) == [
        partner_sales.pk
    ]
    assert other not in ContentDownload.objects.visible_to(channel_manager)
    assert ContentDownload.objects.visible_to(channel_manager).count() == 2


def test_the_first_download_per_partner_records_a_priced_activity(
    partner, other_partner, partner_admin, partner_sales, django_capture_on_commit_callbacks
):
    downloaded = ActivityTypeFactory(code="content-downloaded", name="Content downloaded", default_points=5)
    program = ProgramFactory()
    points = points_rule(program, multiplier="2", name="Library points")
    points.activity_types.set([downloaded])
    spif = spif_rule(
        program,
        trigger=SpifTrigger.ACTIVITY,
        amount="20",
        budget="100",
        name="Read the card",
        effective_to=None,
    )
    spif.activity_types.set([downloaded])
    asset = link(download_activity_type=downloaded, download_points=15)
    with django_capture_on_commit_callbacks(execute=True):
        first = asset_download_record(actor=partner_admin, asset=asset, partner=partner)
        asset_download_record(actor=partner_sales, asset=asset, partner=partner)
        asset_download_record(actor=None, asset=asset, partner=other_partner)
    activities = EngagementActivity.objects.filter(source="enablement").order_by("pk")
    assert [(a.partner_id, a.points, a.activity_type_id) for a in activities] == [
        (partner.pk, 15, downloaded.pk),
        (other_partner.pk, 15, downloaded.pk),
    ]
    assert activities[0].external_id == f"download:{first.pk}"
    assert ContentDownload.objects.filter(partner=partner).count() == 2
    # The incentives engine priced them: doubled points and the SPIF, once per partner.
    assert sorted(
        (entry.partner_id, entry.amount, entry.currency) for entry in LedgerEntry.objects.filter(rule=points)
    ) == sorted([(partner.pk, 30, "PTS"), (other_partner.pk, 30, "PTS")])
    assert LedgerEntry.objects.filter(rule=spif).count() == 2
    assert AuditEntry.objects.filter(action="content_asset.download_activity").count() == 2


def test_an_asset_without_an_activity_type_records_no_activity(partner, partner_admin):
    asset_download_record(actor=partner_admin, asset=link(), partner=partner)
    assert not EngagementActivity.objects.exists()


# --- the portal's list -----------------------------------------------------------------------------


def test_the_list_shows_what_the_partner_may_see_searchable_by_title_tag_and_product_line(
    client, partner, partner_admin
):
    cloud = ProductLineFactory(code="cloud")
    security = ProductLineFactory(code="security")
    link("Cloud pitch", tags="pricing, competitor").product_lines.set([cloud])
    link("Security battle card", tags="competitor").product_lines.set([security])
    link("Americas only", regions=[Region.NORTH_AMERICA])
    client.force_login(partner_admin)

    def titles(**query) -> list[str]:
        response = client.get(reverse("portal:library"), query)
        assert response.status_code == 200
        return [row.record.title for row in response.context["listing"].table.page.object_list]

    assert titles() == ["Cloud pitch", "Security battle card"]
    assert titles(q="battle") == ["Security battle card"]
    assert titles(q="pricing") == ["Cloud pitch"]
    assert titles(tag="competitor") == ["Cloud pitch", "Security battle card"]
    assert titles(product_line=security.pk) == ["Security battle card"]
    assert titles(q="Americas") == []


def test_the_list_counts_the_teams_downloads_for_an_admin_and_ones_own_for_others(
    client, partner, partner_admin, partner_sales
):
    asset = link("Card")
    asset_download_record(actor=partner_admin, asset=asset, partner=partner)
    asset_download_record(actor=partner_admin, asset=asset, partner=partner)
    asset_download_record(actor=partner_sales, asset=asset, partner=partner)
    for user, expected in ((partner_admin, 3), (partner_sales, 1)):
        client.force_login(user)
        response = client.get(reverse("portal:library"))
        assert response.context["listing"].table.page.object_list[0].record.downloaded == expected
    csv = client.get(reverse("portal:library"), {"export": "csv"}).content.decode()
    assert csv.splitlines()[0] == "Asset,Category,Product lines,Tags,Format,Downloaded"
    assert csv.splitlines()[1] == "Card,Other,,,Link,1"


# --- the admin ------------------------------------------------------------------------------------------


def _admin_post(client, upload, **values):
    data = {
        "title": "Uploaded deck",
        "category": "sales_deck",
        "kind": "file",
        "file": upload,
        "file_name": "",
        "url": "",
        "tags": "pitch",
        "partner_types": ["reseller"],
        "regions": ["emea"],
        "needs_content_access": "on",
        "is_active": "on",
        **values,
    }
    return client.post(reverse("admin:enablement_contentasset_add"), data)


def test_the_admin_types_an_upload_by_its_bytes_and_audits_the_save(client, channel_manager, partner_admin):
    client.force_login(channel_manager)
    response = _admin_post(client, SimpleUploadedFile("Deck final.pdf", PDF, content_type="text/html"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    asset = ContentAsset.objects.get()
    assert (asset.file_content_type, asset.file_size, asset.file_name) == (
        "application/pdf",
        len(PDF),
        "Deck final.pdf",
    )
    assert (asset.partner_types, asset.regions) == (["reseller"], ["emea"])
    assert AuditEntry.objects.filter(action="content_asset.created", target_id=str(asset.pk)).exists()


def test_the_admin_refuses_a_disguised_upload(client, channel_manager):
    client.force_login(channel_manager)
    response = _admin_post(client, SimpleUploadedFile("deck.pdf", b"<script>alert(1)</script>"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["file"] == ["The file's content is not a PDF."]
    assert not ContentAsset.objects.exists()


def test_deleting_an_asset_in_the_admin_removes_its_file_after_commit(
    client, channel_manager, django_capture_on_commit_callbacks
):
    asset = deck()
    storage, name = asset.file.storage, asset.file.name
    client.force_login(channel_manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:enablement_contentasset_delete", args=[asset.pk]), {"post": "yes"}
        )
    assert response.status_code == 302
    assert not ContentAsset.objects.exists() and not storage.exists(name)
    assert AuditEntry.objects.filter(action="content_asset.deleted").exists()
