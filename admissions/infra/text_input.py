"""Free text typed into our forms: every character field refuses control, bidirectional and
zero-width characters (``validate_text``, the check the CSV import runs too).

Every form of ours inherits ``PlainTextForm`` (tests/security/test_hostile_inputs.py walks them):
a field added later is covered without anyone remembering to. Text areas keep tabs and line
breaks; password fields are left as typed (they are compared, never shown).
"""

import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.utils.translation import gettext_lazy as _


# --- Free text --------------------------------------------------------------------------------
# No typed text needs these, and they hide or reorder what a person reads: control characters
# (Cc: NUL, ESC...), format characters (Cf: bidirectional overrides such as U+202E, zero-width
# ones such as U+200B, the BOM), surrogates (Cs), private-use characters (Co), and the Unicode
# line and paragraph separators (Zl, Zp). Multi-line text keeps tab, line feed and carriage
# return. Names already refused them through their own pattern; this applies to every field.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})
_MULTILINE_ALLOWED = frozenset("\t\n\r")


def hidden_character(value: str, *, multiline: bool = False) -> tuple[int, str] | None:
    """The first character of ``value`` that typed text may not hold, with its position
    (from 1), or ``None``."""
    for position, char in enumerate(str(value), start=1):
        if multiline and char in _MULTILINE_ALLOWED:
            continue
        if unicodedata.category(char) in _HIDDEN_CATEGORIES:
            return position, char
    return None


def validate_text(value: str, *, multiline: bool = False) -> None:
    """Refuse a control, bidirectional, zero-width or other invisible character, saying which
    and where: the one check of free text shared by the forms and the CSV import."""
    found = hidden_character(value, multiline=multiline)
    if found is not None:
        position, char = found
        raise ValidationError(
            _(
                "Ce texte contient un caractère invisible ou de contrôle (%(code)s, position "
                "%(position)s) : retirez-le ou saisissez le texte à nouveau."
            ),
            code="hidden_character",
            params={"code": f"U+{ord(char):04X}", "position": position, "value": value},
        )


def validate_multiline_text(value: str) -> None:
    validate_text(value, multiline=True)


def text_errors(data: Mapping[str, Any], fields: Iterable[str]) -> dict[str, list[ValidationError]]:
    """``validate_text`` on each of ``fields`` present in ``data`` (on each item of a list),
    as errors keyed by field: what the domain's cleaning functions report in place of their
    own checks of those fields."""
    errors: dict[str, list[ValidationError]] = {}
    for field in fields:
        value = data.get(field)
        for item in value if isinstance(value, list | tuple) else [value]:
            if isinstance(item, str):
                try:
                    # Tabs and line breaks are whitespace each field's own rule deals with (a
                    # name's are collapsed, a code's or an address's refused by its pattern).
                    validate_text(item, multiline=True)
                except ValidationError as exc:
                    errors[field] = exc.error_list
                    break
    return errors


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
