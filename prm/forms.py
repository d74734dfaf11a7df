import json

from django import forms


class PrettyJSONField(forms.JSONField):
    """A JSON textarea that shows its value indented, for criteria trees edited by people."""

    widget = forms.Textarea(attrs={"rows": 16, "cols": 90, "class": "vLargeTextField", "spellcheck": "false"})

    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False, cls=self.encoder)
