"""Labels of ``TextChoices`` values, for rows by the thousand."""

from django.db import models


def choice_label(choices: type[models.TextChoices], value: str) -> str:
    """``value``'s label in the active language, or ``value`` itself if it is not a choice.

    For rows by the thousand (exports, the applicant list): a model's ``get_FOO_display()``
    rebuilds the field's whole choices, hashing each lazy label, at every call; this is one
    enum lookup."""
    try:
        return str(choices(value).label)
    except ValueError:
        return value
