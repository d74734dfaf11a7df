"""The criteria builder: a visual tree editor over the JSON textarea, driven by the generated schema."""

import dataclasses

from django import forms
from django.urls import reverse

from gates.criteria_schema import criteria_json_schema
from gates.metrics import load_references


class CriteriaBuilderWidget(forms.Textarea):
    """The textarea stays the value (its "advanced" view); the builder reads and writes it."""

    template_name = "gates/widgets/criteria_builder.html"

    class Media:
        js = ["js/criteria-builder.js"]
        css = {"all": ["css/criteria-builder.css"]}

    def __init__(self, attrs=None):
        super().__init__(
            {"rows": 16, "cols": 90, "class": "vLargeTextField", "spellcheck": "false", **(attrs or {})}
        )

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        refs = load_references()
        # The codes the models hold, offered by parameter name (certification_types, product_lines...).
        codes = {
            f.name: sorted(getattr(refs, f.name))
            for f in dataclasses.fields(refs)
            if isinstance(getattr(refs, f.name), dict)
            and all(isinstance(k, str) for k in getattr(refs, f.name))
        }
        context["builder_config_id"] = f"{context['widget']['attrs'].get('id', name)}-builder-config"
        context["builder"] = {
            "schema": criteria_json_schema(),
            "codes": codes,
            "describe_url": reverse("admin:gates_gate_describe"),
        }
        return context
