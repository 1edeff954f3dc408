"""Each template filter and tag name has one meaning: none of our template tag libraries
registers a name that another library (ours, a third party's or Django's builtins) also
registers. With two, a page that loads both gets the one loaded last, silently.

Generated from the libraries themselves: a new library or filter is checked without a line
here."""

from collections import defaultdict
from importlib import import_module

import pytest
from django.template import engines
from django.template.backends.django import get_installed_libraries


OUR_PACKAGES = ("admissions.", "verifications.")


def _registrations() -> dict[str, list[str]]:
    """Each filter or tag name, with the libraries that register it (``filter:name``)."""
    where: dict[str, list[str]] = defaultdict(list)
    engine = engines["django"].engine
    libraries = [(module, import_module(module).register) for module in engine.builtins]
    libraries += [
        (module, import_module(module).register)
        for module in sorted(set(get_installed_libraries().values()))
    ]
    for module, library in libraries:
        for name in library.filters:
            where[f"filter:{name}"].append(module)
        for name in library.tags:
            where[f"tag:{name}"].append(module)
    return where


def _ours(modules: list[str]) -> bool:
    return any(module.startswith(OUR_PACKAGES) for module in modules)


REGISTRATIONS = _registrations()
OUR_NAMES = sorted(name for name, modules in REGISTRATIONS.items() if _ours(modules))


def test_our_libraries_are_found():
    assert "filter:kind_label" in OUR_NAMES
    assert "tag:verdict_badge" in OUR_NAMES


@pytest.mark.parametrize("name", OUR_NAMES)
def test_one_library_registers_the_name(name):
    modules = REGISTRATIONS[name]
    assert len(modules) == 1, f"{name} is registered by {', '.join(modules)}: rename all but one"
