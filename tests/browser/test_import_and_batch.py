"""Browser: a supervisor imports a CSV of 50 applicants with two bad lines, reads the preview
that names them, imports the fixed file, launches the batch verification, watches the progress
bar reach 100 % (htmx polling, no reload) and downloads the results."""

import csv
import io
import re
from pathlib import Path

import openpyxl
import pytest

from tests.browser.guards import no_navigation_guard
from tests.verifications.helpers import answering_people, import_row


def _write_csv(path, rows):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), delimiter=";", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(out.getvalue().encode("utf-8-sig"))
    return str(path)


# Without the package (dev extra), the module is skipped with this reason, not an error.
pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is missing: make install (dev extra)"
)


def test_import_fix_verify_and_download(supervisor_page, browser_worker, axe, tmp_path):
    from playwright.sync_api import expect

    page = supervisor_page
    rows = [import_row(p) for p in answering_people(50)]
    bad = [dict(row) for row in rows]
    bad[4]["sexe"] = "X"  # line 6 of the file
    bad[40]["date_naissance"] = "2005-13-01"  # line 42

    page.goto("/imports/nouveau/")
    axe(page)
    page.get_by_label("Fichier CSV").set_input_files(_write_csv(tmp_path / "rentree.csv", bad))
    page.locator("#import-upload-submit").click()
    expect(page.locator("#import-errors")).to_be_visible()
    lines = page.locator("#import-errors tbody tr").evaluate_all(
        "rows => rows.map(row => row.dataset.line)"
    )
    assert lines == ["6", "42"]
    expect(page.locator("#import-errors")).to_contain_text("sexe")
    expect(page.locator("#import-errors")).to_contain_text("date_naissance")
    expect(page.locator("#import-confirm")).to_have_count(0)  # nothing imported with errors
    axe(page)

    page.locator("#import-reupload").click()
    page.get_by_label("Fichier CSV").set_input_files(_write_csv(tmp_path / "corrige.csv", rows))
    page.locator("#import-upload-submit").click()
    expect(page.locator("#import-valid-count")).to_have_text("50")
    page.locator("#import-confirm").click()
    page.wait_for_url(re.compile(r"/candidats/\?batch=\d+$"))
    expect(page.locator("#batch-filter-note")).to_be_visible()
    expect(page.locator("#applicant-results")).to_contain_text("50 candidats")

    page.locator("#verify-selection-link").click()
    page.locator("#batch-cohort-submit").click()
    summary = page.locator("#batch-confirm-summary")
    expect(summary).to_contain_text("50 vérifications seront lancées")
    page.locator("#batch-launch").click()
    page.wait_for_url(re.compile(r"/lots/\d+/$"))
    axe(page)

    # The panel polls itself (htmx) and stops once the batch is done: no reload here.
    navigations = no_navigation_guard(page)
    progress = page.locator("#batch-progress")
    expect(progress).to_have_attribute("data-status", "done", timeout=120_000)
    bar = page.locator("#batch-progress-bar")
    assert (bar.get_attribute("max"), bar.get_attribute("value")) == ("50", "50")
    expect(page.locator("#batch-progress-text")).to_contain_text("(100 %)")
    expect(page.locator("#batch-progress")).not_to_have_attribute("hx-trigger", re.compile(".*"))
    assert navigations == [], "the page navigated: the progress bar must move without a reload"
    assert page.evaluate("window.__vigieNoReload") is True

    with page.expect_download() as info:
        page.locator("#batch-export-csv").click()
    text = Path(info.value.path()).read_text(encoding="utf-8-sig")
    results = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert len(results) == 1 + 50
    assert all(row[7] == "Terminée" and row[8] for row in results[1:])

    # The XLSX is written by the worker; the panel follows it and offers it once ready.
    page.locator("#batch-export-xlsx").click()
    expect(page.get_by_text("Le fichier de résultats est en préparation")).to_be_visible()
    link = page.locator("#batch-exports a")
    expect(link).to_contain_text("Télécharger 50 lignes (XLSX)", timeout=60_000)
    with page.expect_download() as info:
        link.click()
    book = openpyxl.load_workbook(io.BytesIO(Path(info.value.path()).read_bytes()))
    sheet = [[cell.value for cell in row] for row in book.active.iter_rows()]
    assert len(sheet) == 1 + 50
    assert all(row[7] == "Terminée" and row[8] for row in sheet[1:])
