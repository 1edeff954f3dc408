"""The documents the code cites are in the repository (docs/api/README.md).

Code, tests and bench cite ``docs/<page>.md`` (and ``docs/<page>.md §<Section>``, a heading of
that page), and tag facts with a source shorthand (``[V: SSD-OAS3]``) that docs/api/README.md
defines. None may cite the team's documents that live outside the repository.
"""

import re
from functools import cache
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[1]
SCANNED_DIRS = ("admissions", "verifications", "webhooks", "sandbox", "tests", "bench")
SCANNED_SUFFIXES = {".py", ".md", ".yaml", ".yml"}
SKIPPED_PARTS = {"migrations", "__pycache__", "node_modules"}

# The documents that are not in the repository, however they are named (written so that this
# file does not match its own patterns).
OUTSIDE = re.compile(r"api[-]reference|\b(?:design|style)[.]md\b|[.][.]/shared\b|\bshared/")
# A repository path to a document, and what follows it on the line.
DOC_PATH = re.compile(r"(?<![\w/.-])(docs/[\w./-]*?[\w-]+[.]md)\b(.*)")
# A numbered section: the old reference's (its numbering is gone). The sources' own numbered
# sections stay citable after their shorthand.
NUMBERED_SECTION = re.compile(r"(?<!AAE-MIG )(?<!guide_migration )§\s?\d")
# A confidence tag with its sources: [V: SSD-OAS3], [V-3p: C0MM0-CI], [I: ...], [V/I: ...].
TAG = re.compile(r"\[(?:V|V-3p|I|\?)(?:/(?:V|V-3p|I|\?))*: ([^\]]+)\]")
SHORTHAND = re.compile(r"^[A-Z][A-Z0-9]*(?:-[A-Za-z0-9.^]+)*$")


def _scanned_files() -> list[Path]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    for name in SCANNED_DIRS:
        for path in sorted((ROOT / name).rglob("*")):
            parts = set(path.relative_to(ROOT).parts)
            if (
                path.suffix in SCANNED_SUFFIXES
                and path.is_file()
                and not parts & SKIPPED_PARTS
                and not any(part.startswith(".") for part in parts)
                # This file names the patterns it looks for.
                and path != Path(__file__).resolve()
            ):
                files.append(path)
    return files


FILES = _scanned_files()


def _lines(path: Path) -> list[tuple[int, str]]:
    return list(enumerate(path.read_text(encoding="utf-8").splitlines(), start=1))


def _where(path: Path, number: int) -> str:
    return f"{path.relative_to(ROOT)}:{number}"


@cache
def _headings(doc: str) -> tuple[str, ...]:
    text = (ROOT / doc).read_text(encoding="utf-8")
    return tuple(
        match.group(1).strip() for match in re.finditer(r"^#{1,6}\s+(.+?)\s*#*$", text, re.M)
    )


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


@cache
def _defined_shorthands() -> frozenset[str]:
    text = (ROOT / "docs" / "api" / "README.md").read_text(encoding="utf-8")
    return frozenset(re.findall(r"^\| `([^`]+)` \|", text, re.M))


def test_every_scanned_directory_has_files():
    for name in SCANNED_DIRS:
        assert any(path.is_relative_to(ROOT / name) for path in FILES), name


def test_nothing_cites_documents_kept_outside_the_repository():
    found = [
        f"{_where(path, number)}: {line.strip()}"
        for path in FILES
        for number, line in _lines(path)
        if OUTSIDE.search(line)
    ]
    assert not found, "cites a document that is not in the repository:\n" + "\n".join(found)


def test_no_numbered_section_of_the_old_reference_is_cited():
    found = [
        f"{_where(path, number)}: {line.strip()}"
        for path in FILES
        for number, line in _lines(path)
        if NUMBERED_SECTION.search(line)
    ]
    assert not found, "cite a named section (docs/api/<page>.md §<Section>):\n" + "\n".join(found)


def test_every_cited_document_exists_and_every_cited_section_is_a_heading():
    problems = []
    for path in FILES:
        for number, line in _lines(path):
            for match in DOC_PATH.finditer(line):
                doc, rest = match.group(1), match.group(2)
                if not (ROOT / doc).is_file():
                    problems.append(f"{_where(path, number)}: {doc} does not exist")
                    continue
                section = re.match(r"`?\s*§\s*(.+)", rest)
                if section and not any(
                    section.group(1).startswith(heading)
                    and not section.group(1)[len(heading) : len(heading) + 1].isalnum()
                    for heading in _headings(doc)
                ):
                    problems.append(
                        f"{_where(path, number)}: {doc} has no heading for §{section.group(1)}"
                    )
    assert not problems, "\n".join(problems)


def test_links_between_documents_resolve():
    problems = []
    for path in [p for p in FILES if p.suffix == ".md"]:
        for number, line in _lines(path):
            for target in re.findall(r"\]\(([^)\s]+)\)", line):
                if re.match(r"[a-z]+:", target):
                    continue
                file_part, _, anchor = target.partition("#")
                linked = (path.parent / file_part).resolve() if file_part else path
                if not linked.exists():
                    problems.append(f"{_where(path, number)}: {target} does not exist")
                elif anchor and linked.suffix == ".md":
                    doc = str(linked.relative_to(ROOT))
                    if anchor not in {_slug(h) for h in _headings(doc)}:
                        problems.append(f"{_where(path, number)}: no heading for #{anchor}")
    assert not problems, "\n".join(problems)


def test_source_shorthands_of_confidence_tags_are_defined():
    defined = _defined_shorthands()
    assert {"SSD", "SSD-OAS3", "AAE-DOC", "CVEC-2024", "RPC"} <= defined
    problems = []
    for path in FILES:
        for number, line in _lines(path):
            for sources in TAG.findall(line):
                for part in re.split(r"[;,]", sources):
                    words = part.split()
                    if words and SHORTHAND.match(words[0]) and words[0] not in defined:
                        problems.append(f"{_where(path, number)}: {words[0]} is not defined")
    assert not problems, "define these in docs/api/README.md:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("line", "outside"),
    [
        ("see api-" + "reference.md §2.5", True),
        ("(design" + ".md, 'The pipeline')", True),
        ("style" + ".md §J", True),
        ("in `.." + "/shared/design`", True),
        ("docs/DESIGN.md, docs/STYLE.md", False),
    ],
)
def test_the_outside_pattern(line, outside):
    assert bool(OUTSIDE.search(line)) is outside
