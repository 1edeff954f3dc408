"""Free text typed into our forms: every character field refuses control, bidirectional and
zero-width characters (``validators.validate_text``, the check the CSV import runs too).

Every form of ours inherits ``PlainTextForm`` (tests/security/test_hostile_inputs.py walks them):
a field added later is covered without anyone remembering to. Text areas keep tabs and line
breaks; password fields are left as typed (they are compared, never shown).
"""

from typing import Any

from django import forms
from django.core.validators import ProhibitNullCharactersValidator

from admissions.validators import validate_multiline_text, validate_text


class PlainTextForm:
    """Mixin for a ``forms.Form`` or ``forms.ModelForm``: put it first among the bases."""

    fields: dict[str, forms.Field]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():  # this form's own copies of the fields
            if not isinstance(field, forms.CharField):
                continue
            if isinstance(field.widget, forms.PasswordInput):
                continue
            multiline = isinstance(field.widget, forms.Textarea)
            # Ours says which character and where; Django's NUL check would say it twice.
            field.validators = [
                v for v in field.validators if not isinstance(v, ProhibitNullCharactersValidator)
            ]
            field.validators.append(validate_multiline_text if multiline else validate_text)
