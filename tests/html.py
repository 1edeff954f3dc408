"""Reading a rendered page with an HTML parser: one element of it, and whether an htmx fragment is
the same region as the full page.

``region`` finds the element with the standard library's ``html.parser``, following the nesting
of elements (a region may hold elements of its own tag), and returns its source text with the
whitespace folded, for the tests' substring assertions. ``assert_same_region`` compares the two
as parsed HTML (Django's ``parse_html``, the machinery of ``assertHTMLEqual``): whitespace,
attribute order and class order aside, and the CSRF token (masked anew at each render) blanked.
"""

import difflib
from html.parser import HTMLParser

from django.test.html import Element, parse_html
from django.utils.html import VOID_ELEMENTS


def fold(html: str) -> str:
    """Whitespace folded."""
    return " ".join(html.split())


class _ElementSpan(HTMLParser):
    """Where the element with a given id starts and ends in the source.

    Open elements are kept on a stack, as a browser does; an end tag closes the innermost open
    element of its name and those opened inside it (an omitted ``</li>`` or ``</p>``), so the
    element ends at its own end tag, or where an enclosing element ends.
    """

    def __init__(self, source: str, element_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.source = source
        self.element_id = element_id
        # ``getpos()`` counts lines at each "\n" only.
        self.line_starts = [0] + [i + 1 for i, c in enumerate(source) if c == "\n"]
        self.open: list[str] = []
        self.depth: int | None = None  # the element's index in ``open`` while it is open
        self.start: int | None = None
        self.end: int | None = None

    def _source_offset(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.start is None and dict(attrs).get("id") == self.element_id:
            self.start = self._source_offset()
            tag_text = self.get_starttag_text() or ""
            if tag in VOID_ELEMENTS:
                self.end = self.start + len(tag_text)
                return
            self.depth = len(self.open)
        if tag not in VOID_ELEMENTS:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.start is None and dict(attrs).get("id") == self.element_id:
            self.start = self._source_offset()
            self.end = self.start + len(self.get_starttag_text() or "")

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.open:
            return  # a stray end tag closes nothing
        at = len(self.open) - 1 - self.open[::-1].index(tag)
        if self.depth is not None and self.end is None and at <= self.depth:
            here = self._source_offset()
            # Its own end tag ends it (tag included); an enclosing one ends it just before.
            self.end = self.source.index(">", here) + 1 if at == self.depth else here
            self.depth = None
        del self.open[at:]


def region(html: str, element_id: str) -> str:
    """The element with this id (its source, whitespace folded)."""
    parser = _ElementSpan(html, element_id)
    parser.feed(html)
    parser.close()
    assert parser.start is not None, f"no element with id={element_id!r} in the page"
    end = parser.end if parser.end is not None else len(html)
    return fold(html[parser.start : end])


def _without_csrf_token(node: Element | str) -> None:
    if isinstance(node, str):
        return
    if node.name == "input" and ("name", "csrfmiddlewaretoken") in node.attributes:
        node.attributes = [(k, "" if k == "value" else v) for k, v in node.attributes]
    for child in node.children:
        _without_csrf_token(child)


def parsed(html: str) -> Element:
    """``html`` as Django's test HTML tree, the CSRF token's value blanked."""
    tree = parse_html(html)
    _without_csrf_token(tree)
    return tree


def _in_band(tree: Element) -> Element:
    """What htmx swaps of a response: its out-of-band elements (``hx-swap-oob``, swapped
    elsewhere by id) taken out first."""
    if tree.name is not None:  # one element: Django's parse_html unwraps a single root
        return tree
    tree.children = [
        child
        for child in tree.children
        if isinstance(child, str) or not any(key == "hx-swap-oob" for key, _ in child.attributes)
    ]
    if len(tree.children) == 1 and not isinstance(tree.children[0], str):
        return tree.children[0]
    return tree


def assert_same_region(fragment: str, page: str, element_id: str) -> None:
    """The htmx ``fragment`` (its out-of-band elements aside) is, as HTML, the element with
    this id in the full ``page``."""
    ours, theirs = _in_band(parsed(fragment)), parsed(region(page, element_id))
    if ours != theirs:
        diff = difflib.unified_diff(
            str(theirs).splitlines(), str(ours).splitlines(), "page", "fragment", lineterm=""
        )
        raise AssertionError(
            f"the fragment is not the page's element id={element_id!r}:\n" + "\n".join(diff)
        )
