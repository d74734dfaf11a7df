from django.contrib import admin

from deals.models import Deal


@admin.register(Deal)
class DealAdmin(admin.ModelAdmin):
    list_display = [
        "customer_name",
        "customer_domain",
        "partner",
        "status",
        "needs_review",
        "expected_value",
        "currency",
        "expected_close",
        "registered_on",
        "protected_until",
    ]
    list_filter = ["status", "needs_review", "currency", "sourced_by", "closed_by"]
    search_fields = ["customer_name", "customer_domain", "partner__name"]
    list_select_related = ["partner"]
    autocomplete_fields = ["partner", "registered_by", "conflicts_with", "decided_by", "products"]
    date_hierarchy = "registered_on"

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)
