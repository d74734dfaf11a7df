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


class _SharedChoiceIterator(forms.models.ModelChoiceIterator):
    def __iter__(self):
        shared = self.field.shared_choices  # type: ignore[attr-defined]
        if "choices" not in shared:
            shared["choices"] = list(super().__iter__())
        yield from shared["choices"]

    def __len__(self):
        return len(list(iter(self)))


class SharedChoicesField(forms.ModelChoiceField):
    """A choice of a related object whose options are read once for every row of a formset.

    Each form of a formset gets a copy of the field, and each copy of a
    ``ModelChoiceField`` reads its queryset again when it renders: a query per
    row. The copies share ``shared_choices`` (a copy is shallow), so the first
    row to render reads the options and the others reuse them. The formset's
    field is built per request, so the options are never older than the page.
    """

    iterator = _SharedChoiceIterator

    def __init__(self, *args, **kwargs):
        self.shared_choices: dict[str, list] = {}
        super().__init__(*args, **kwargs)
