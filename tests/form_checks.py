"""What every rendered page owes its forms, read with an HTML parser (no regex):

* ``assert_unique_ids``: no id twice on a page (a label's ``for`` and an ``aria-describedby``
  would point at the first one, on another card).
* ``assert_errors_flagged``: each field error list (``<ul class="field-errors" id="…_error">``)
  is named by the ``aria-describedby`` of its field (an input marked ``aria-invalid``, or its
  group's fieldset), and when the page has an error summary, every field in error is linked
  from it and every link of the summary lands on an element of the page.
"""

from collections import Counter
from dataclasses import dataclass
from html.parser import HTMLParser


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.in_summary = 0
        self.summary_links: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.elements.append(Element(tag, values))
        if values.get("id") == "error-summary":
            self.in_summary = len(self.open) + 1
        if self.in_summary and tag == "a" and values.get("href", "").startswith("#"):
            self.summary_links.append(values["href"][1:])
        if tag not in {"input", "br", "img", "meta", "link", "hr", "col", "source", "wbr"}:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:
            while self.open:
                closed = self.open.pop()
                if self.in_summary and len(self.open) < self.in_summary:
                    self.in_summary = 0
                if closed == tag:
                    break


def parse(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return parser


def ids(html: str) -> list[str]:
    return [e.attrs["id"] for e in parse(html).elements if "id" in e.attrs]


def assert_unique_ids(html: str, where: str = "the page") -> None:
    twice = sorted(i for i, n in Counter(ids(html)).items() if n > 1)
    assert not twice, f"ids used more than once on {where}: {twice}"


def _described_by(element: Element) -> set[str]:
    return set(element.attrs.get("aria-describedby", "").split())


def assert_errors_flagged(html: str, where: str = "the page") -> None:
    page = parse(html)
    present = {e.attrs["id"] for e in page.elements if "id" in e.attrs}
    error_lists = [
        e.attrs["id"]
        for e in page.elements
        if "field-errors" in e.attrs.get("class", "").split() and e.attrs.get("id")
    ]
    described = [e for e in page.elements if "aria-describedby" in e.attrs]
    for error_id in error_lists:
        assert error_id.endswith("_error"), f"{where}: error list id {error_id!r}"
        field_id = error_id.removesuffix("_error")
        holders = [e for e in described if error_id in _described_by(e)]
        assert holders, f"{where}: nothing names {error_id!r} in its aria-describedby"
        widget = next((e for e in page.elements if e.attrs.get("id") == field_id), None)
        if widget is not None and widget.tag in {"input", "select", "textarea"}:
            assert widget.attrs.get("aria-invalid") == "true", (
                f"{where}: {field_id!r} has errors but no aria-invalid"
            )
        if page.summary_links or "error-summary" in present:
            linked = {link.removesuffix("_0") for link in page.summary_links}
            assert field_id in linked, f"{where}: the error summary does not link {field_id!r}"
    for link in page.summary_links:
        assert link in present, f"{where}: the error summary links #{link}, not on the page"
    for element in described:
        for target in _described_by(element):
            assert target in present, (
                f"{where}: aria-describedby names {target!r}, which is not on the page"
            )
