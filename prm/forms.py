import json

from django import forms

from prm.text import storable_problem, validate_storable


class PrettyJSONField(forms.JSONField):
    """A JSON textarea that shows its value indented, for criteria trees edited by people.

    The text may spell characters the database cannot store as escapes
    (``"\\u0000"``), which only decoding reveals; they are refused like any
    other unstorable text.
    """

    widget = forms.Textarea(attrs={"rows": 16, "cols": 90, "class": "vLargeTextField", "spellcheck": "false"})
    default_validators = [validate_storable]

    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        text = json.dumps(value, indent=2, ensure_ascii=False, cls=self.encoder)
        # A lone surrogate, typed as an escape and refused, cannot be sent back as UTF-8: keep it escaped.
        return text if storable_problem(text) is None else json.dumps(value, indent=2, cls=self.encoder)
