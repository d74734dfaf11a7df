"""The customer segments a new installation starts with; channel managers edit them in the admin."""

from django.db import migrations

SEGMENTS = [
    ("enterprise", "Enterprise"),
    ("mid-market", "Mid-market"),
    ("small-business", "Small business"),
]


def seed(apps, schema_editor):
    CustomerSegment = apps.get_model("partners", "CustomerSegment")
    for code, name in SEGMENTS:
        CustomerSegment.objects.get_or_create(code=code, defaults={"name": name})


def unseed(apps, schema_editor):
    CustomerSegment = apps.get_model("partners", "CustomerSegment")
    CustomerSegment.objects.filter(
        code__in=[code for code, _ in SEGMENTS], sales__isnull=True, deals__isnull=True, benefits__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("partners", "0004_customer_segment_and_sale_country")]

    operations = [migrations.RunPython(seed, unseed)]
