"""The content library in the portal: the assets a partner may see, searchable, and their downloads.

The list reads ``ContentAsset.objects.visible_to`` (programs, tiers, segments, partner types,
regions and the "content access" benefit); anything else answers 404, as a program out of sight
does. Files are served here, never from a public address, to those who may download them, and
each download is counted for the partner (``enablement.library.asset_download_record``).
"""

import django_filters as filters
import django_tables2 as tables
from django.db.models import Count, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from enablement.library import asset_download_record
from enablement.models import AssetCategory, AssetKind, ContentAsset, ContentDownload
from partners.models import ProductLine
from portal.access import portal_view, viewer_for
from portal.tables import PortalTable, SearchFilterSet, listing
from portal.views import render_portal


class LibraryFilterSet(SearchFilterSet):
    """Search by title, description and tag; narrow by product line, category and kind."""

    search_fields = ("title", "description", "tags")

    product_line = filters.ModelChoiceFilter(
        field_name="product_lines",
        queryset=ProductLine.objects.order_by("name"),
        label="Product line",
        empty_label="All",
    )
    tag = filters.CharFilter(field_name="tags", lookup_expr="icontains", label="Tag", max_length=50)
    category = filters.ChoiceFilter(choices=AssetCategory.choices, empty_label="All")
    kind = filters.ChoiceFilter(choices=AssetKind.choices, label="File or link", empty_label="All")

    class Meta:
        model = ContentAsset
        fields: list[str] = []


class LibraryTable(PortalTable):
    caption = "Content library"

    title = tables.Column(verbose_name="Asset")
    category = tables.Column(verbose_name="Category")
    product_lines = tables.ManyToManyColumn(verbose_name="Product lines", orderable=False)
    tags = tables.Column(verbose_name="Tags", orderable=False, default="–")
    format = tables.Column(accessor="pk", verbose_name="Format", orderable=False)
    downloaded = tables.Column(
        verbose_name="Downloaded", attrs={"th": {"class": "num"}, "td": {"class": "num"}}
    )
    download = tables.Column(accessor="pk", verbose_name="Get it", orderable=False, exclude_from_export=True)

    class Meta(PortalTable.Meta):
        empty_text = "No content matches."

    def render_title(self, record: ContentAsset):
        if not record.description:
            return record.title
        return format_html('{}<br><span class="muted small">{}</span>', record.title, record.description)

    def value_category(self, record: ContentAsset) -> str:
        return record.get_category_display()

    def render_tags(self, record: ContentAsset):
        return (
            format_html_join(" ", '<span class="badge">{}</span>', ((tag,) for tag in record.tag_list)) or "–"
        )

    def value_tags(self, record: ContentAsset) -> str:
        return ", ".join(record.tag_list)

    def render_format(self, record: ContentAsset) -> str:
        if record.kind == AssetKind.LINK:
            return "Link"
        extension = record.file_name.rsplit(".", 1)[-1].upper() if "." in record.file_name else "File"
        return f"{extension}, {filesizeformat(record.file_size)}" if record.file_size else extension

    def value_format(self, record: ContentAsset) -> str:
        return self.render_format(record)

    def render_download(self, record: ContentAsset):
        verb = "Open" if record.kind == AssetKind.LINK else "Download"
        return format_html(
            '<a href="{}"{}>{}<span class="visually-hidden"> {}</span></a>',
            reverse("portal:library_download", args=[record.pk]),
            "" if record.kind == AssetKind.LINK else mark_safe(" download"),
            verb,
            record.title,
        )


def library_for(user) -> QuerySet[ContentAsset]:
    """The assets the user sees, each with how often the user may know it was downloaded (a
    partner admin: by the team; other people: by themselves), through the downloads' door."""
    downloads = (
        ContentDownload.objects.visible_to(user)
        .filter(asset=OuterRef("pk"))
        .order_by()
        .values("asset")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        ContentAsset.objects.visible_to(user)
        .annotate(downloaded=Coalesce(Subquery(downloads), 0))
        .prefetch_related(Prefetch("product_lines", queryset=ProductLine.objects.order_by("name")))
        .order_by("title", "pk")
    )


@portal_view("partner")
def library(request: HttpRequest) -> HttpResponse:
    """Queries: the session and user (2), the membership (1), the count (1), a page of assets (1)
    and their product lines (1), the product lines of the filter (1)."""
    found = listing(
        request,
        queryset=library_for(request.user),
        table_class=LibraryTable,
        filterset_class=LibraryFilterSet,
        filename="content-library.csv",
    )
    if isinstance(found, HttpResponse):
        return found
    return render_portal(request, "portal/library/list.html", {"listing": found}, section="library")


@portal_view("partner")
def library_download(request: HttpRequest, pk: int) -> HttpResponse | FileResponse:
    """The asset's file (or the link it opens), counted for the partner; 404 for what is out of sight."""
    asset = get_object_or_404(ContentAsset.objects.actionable_by(request.user, "download"), pk=pk)
    partner = viewer_for(request).partner
    assert partner is not None  # the door admits partner users only
    if asset.kind == AssetKind.LINK:
        asset_download_record(actor=request.user, asset=asset, partner=partner)
        return HttpResponseRedirect(asset.url)
    try:
        handle = asset.file.open("rb")
    except (FileNotFoundError, ValueError) as exc:
        raise Http404("The file is missing.") from exc
    asset_download_record(actor=request.user, asset=asset, partner=partner)
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=asset.file_name or "download",
        content_type=asset.file_content_type or "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
