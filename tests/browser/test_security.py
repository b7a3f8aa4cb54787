"""Real browser, as an outsider would try it: paths outside the allowed roots, Markdown in uploads.

Paths typed into the Images "Image folder" and the Train "Labels CSV path" fields must be
refused without echoing anything read from them and without writing anything there; a CSV
header and a file name carrying Markdown image/link syntax that points at a loopback listener
must not make the browser fetch it.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support.browser import open_app, wait_for_app_idle
from tests.support.paths import SAMPLE_CATALOG
from tests.support.request_counter import request_counter

pytestmark = pytest.mark.browser
SECRET = "TOPSECRET-5b1e3c"


@pytest.fixture
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder outside every allowed root, with a file whose first line is a secret."""
    folder = tmp_path_factory.mktemp("outside-roots")
    (folder / "labels.csv").write_text(f"{SECRET},P_CW\n1,0.5\n")
    (folder / "587739156582301791.jpg").write_bytes(b"\xff\xd8" + SECRET.encode())
    return folder


def _listing(folder: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(folder)), p.stat().st_size) for p in folder.rglob("*"))


def _type(page, label: str, text: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(text)
    box.press("Enter")
    wait_for_app_idle(page)


def test_paths_outside_the_roots_are_refused_unread_and_unwritten(app_url, page, outside: Path) -> None:
    before = _listing(outside)
    open_app(page, app_url)
    open_app(page, app_url, "images")
    for typed in (str(outside), "/etc", "/proc/self", f"{outside}/../{outside.name}"):
        _type(page, "Image folder", typed)
        page.get_by_text("outside the folders", exact=False).first.wait_for()
        body = page.locator("[data-testid='stMain']").inner_text()
        assert SECRET not in body
        # The rerun that refused the path may still be removing the previous run's elements.
        expect(page.get_by_role("button", name="Start download")).to_have_count(0)

    open_app(page, app_url, "train")
    page.get_by_text("Labels CSV on this computer", exact=True).click()
    wait_for_app_idle(page)
    for typed in (str(outside / "labels.csv"), "/etc/shadow", "/proc/self/environ"):
        _type(page, "Labels CSV path", typed)
        page.get_by_text("outside the folders", exact=False).first.wait_for()
        body = page.locator("[data-testid='stMain']").inner_text()
        assert SECRET not in body and "root:" not in body and "PATH=" not in body
    assert _listing(outside) == before  # nothing written, no job files, no half-files


def test_markdown_in_a_csv_header_and_file_name_fetches_nothing(app_url, page, tmp_path: Path) -> None:
    with request_counter() as listener:
        rows = SAMPLE_CATALOG.read_text().splitlines()
        header = rows[0] + f",![x]({listener.url}/header.png),[link]({listener.url}/header-link)"
        body = "\n".join([header] + [f"{row},1,2" for row in rows[1:4]]) + "\n"
        upload = tmp_path / f"![y]({listener.url.replace('http://', '')}) name.csv"
        upload.write_text(body)
        open_app(page, app_url)
        open_app(page, app_url, "catalog")
        page.locator("input[type='file']").first.set_input_files(str(upload))
        page.get_by_text("Rows read").first.wait_for()
        # The file name is shown literally in the report's caption, Markdown and all.
        page.locator("[data-testid='stCaptionContainer']").filter(has_text="![y](127.0.0.1").first.wait_for()
        wait_for_app_idle(page)
        # A header the reader refuses is named in the error message (a Markdown element).
        image = f"![x]({listener.url}/error.png)"
        refused = tmp_path / "duplicate.csv"
        refused.write_text(f"OBJID,{image},{image}\n1,2,3\n")
        page.locator("input[type='file']").first.set_input_files(str(refused))
        error = page.locator("[data-testid='stAlertContentError']").filter(has_text="appears more than once")
        error.first.wait_for()
        assert "![x](http" in error.first.inner_text()  # named literally (a zero-width space breaks the autolink)
        wait_for_app_idle(page)
        time.sleep(1.0)  # give any image or prefetch request time to arrive
        assert listener.paths == []
        assert page.locator(f"img[src*='{listener.url}'], a[href*='{listener.url}']").count() == 0
        # The listener was live all along: a direct request reaches it.
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{listener.url}/control", timeout=5)
        assert listener.paths == ["/control"]
