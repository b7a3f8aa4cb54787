"""The last-resort handler: a page that raises shows a plain message, and the traceback goes to the log."""

from __future__ import annotations

import logging
import tomllib

import pytest

import ui.catalog_state
from tests.support.paths import REPO_ROOT
from ui.page_errors import LOG


def _all_text(at) -> str:
    """Every element the app put on screen, main area and sidebar, as proto text (nothing is missed)."""
    out, todo = [], [at._tree]
    while todo:
        node = todo.pop()
        todo.extend(getattr(node, "children", {}).values())
        if getattr(node, "proto", None) is not None:
            out.append(str(node.proto))
    return "\n".join(out)


def test_a_failing_page_shows_no_traceback_or_path_and_logs_it(app_test, monkeypatch, caplog: pytest.LogCaptureFixture):
    where = REPO_ROOT / "core" / "catalog" / "reader.py"

    def broken():
        raise RuntimeError(f"unexpected failure in {where} (.venv/lib/python3.11/site-packages/x.py)")

    monkeypatch.setattr(ui.catalog_state, "load_sample_catalog", broken)
    at = app_test(None, timeout=30).run()
    with caplog.at_level(logging.ERROR, logger=LOG.name):
        at.switch_page("pages/catalog.py").run()
    assert not at.exception  # no Streamlit exception box at all
    assert len(at.error) == 1 and at.error[0].value.startswith("Something went wrong on this page")
    shown = _all_text(at)
    assert "Something went wrong on this page" in shown  # the walk reaches what is on screen
    for leak in ("Traceback", "RuntimeError", str(REPO_ROOT), "/work", "site-packages", "reader.py"):
        assert leak not in shown
    record = next(r for r in caplog.records if r.name == LOG.name)
    ref = record.getMessage().rsplit("reference ", 1)[1].rstrip(")")
    assert f"reference {ref}" in at.error[0].value  # the visitor's reference finds the log line
    assert record.exc_info and "unexpected failure in" in str(record.exc_info[1])

    monkeypatch.undo()  # the page works again on the next run: nothing sticky
    at.run()
    assert not at.error and not at.exception


def test_streamlit_shows_no_error_details_outside_pages_either():
    config = tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"
