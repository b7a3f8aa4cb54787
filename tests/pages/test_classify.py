"""AppTest of the Classify page: a vote, the reveal, the score, undo, the rate limit, the crowd, public mode."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import pytest
from streamlit.testing.v1 import AppTest

from core.votes.migrations import votes
from core.votes.store import get_engine, session_votes
from tests.support.paths import FIXTURES, REPO_ROOT, page_file
from ui import state_keys

PAGE = page_file("classify")
#: The fixture galaxy whose labels.csv row has all six GZ1 vote fractions, and one with a GZ1 class only.
WITH_GZ1_VOTES, CLASS_ONLY = "587738947208085695", "588848901526192251"


@pytest.fixture(autouse=True)
def fixture_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo set is the 7 class-labelled GZ1 fixture images (+5 spin cutouts, which have no OBJID);
    the model revealed is the shipped demo model."""
    monkeypatch.setenv("GZ_DEMO_DIR", str(FIXTURES / "predict"))
    monkeypatch.setenv("GZ_SHIPPED_MODELS_DIR", str(REPO_ROOT / "models"))


def _page(timeout: float = 120, showing: str | None = None) -> AppTest:
    """The page after its first run; ``showing`` = the OBJID to put on show first."""
    at = AppTest.from_file(PAGE, default_timeout=timeout)
    if showing:
        at.session_state[state_keys.VOTE_CURRENT] = showing
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _vote_buttons(at: AppTest) -> dict:
    return {b.key.removeprefix("vote_"): b for b in at.button if b.key and b.key.startswith("vote_")}


def _reveal_series(at: AppTest) -> dict[str, list]:
    chart = next(el for el in at.get("plotly_chart") if "reveal_chart" in el.proto.id)
    return {trace["name"]: trace["x"] for trace in json.loads(chart.proto.spec)["data"]}


@pytest.mark.parametrize("showing", [WITH_GZ1_VOTES, CLASS_ONLY])
def test_vote_reveal_score_and_undo(showing):
    at = _page(showing=showing)
    buttons = _vote_buttons(at)
    assert [b.label for b in buttons.values()] == [
        "Elliptical", "Clockwise spiral", "Anticlockwise spiral",
        "Spiral, edge-on or direction unclear", "Star or don't know", "Merger"]
    assert [b.proto.shortcut for b in buttons.values()] == ["1", "2", "3", "4", "5", "6"]
    first = at.session_state[state_keys.VOTE_CURRENT]
    assert first == showing

    buttons["ELLIPTICAL"].click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    session = at.session_state[state_keys.VOTE_SESSION]
    stored = session_votes(get_engine(), session)
    assert [(v.galaxy_id, v.answer, v.source) for v in stored] == [(first, "ELLIPTICAL", "built-in demo")]
    assert any(h.value == "You said: Elliptical" for h in at.subheader)
    series = _reveal_series(at)
    # one fixture galaxy carries all six GZ1 vote fractions; the others only a GZ1 class
    gz1 = ("GZ1 volunteers (vote fractions)" if first == WITH_GZ1_VOTES
           else "GZ1 class (class-derived, not vote fractions)")
    assert set(series) == {"model", gz1, "visitors here (1 vote)"}
    assert series["visitors here (1 vote)"] == [1, 0, 0, 0, 0, 0]
    assert sum(series["model"]) == pytest.approx(1, abs=1e-4)
    assert sum(series[gz1]) == pytest.approx(1, abs=0.01)
    if first == CLASS_ONLY:
        assert series[gz1] == [1, 0, 0, 0, 0, 0]  # its GZ1 class is ELLIPTICAL: one-hot, shown as such
    chart = next(el for el in at.get("plotly_chart") if "reveal_chart" in el.proto.id)
    visitors = next(t for t in json.loads(chart.proto.spec)["data"] if t["name"].startswith("visitors"))
    assert visitors["text"] == ["1.00", "", "", "", "", ""]  # zero shares unlabelled, not a stack of "0.00"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Your votes"] == "1" and metrics["Votes so far"] == "1" and metrics["Galaxies covered"] == "1"
    assert metrics["Match GZ1"] in ("0%", "100%")
    second = at.session_state[state_keys.VOTE_CURRENT]
    assert second != first

    next(b for b in at.button if b.label == "Undo my last vote").click()
    at.run()
    assert session_votes(get_engine(), session) == []
    assert at.session_state[state_keys.VOTE_CURRENT] == first  # the undone galaxy comes back
    assert any("removed" in w.value for w in at.warning)


def test_rate_limit_is_shown_and_enforced(monkeypatch):
    monkeypatch.setenv("GZ_VOTES_PER_MINUTE", "2")
    at = _page()
    for _ in range(3):
        _vote_buttons(at)["MERGER"].click()
        at.run()
    assert not at.exception
    assert len(session_votes(get_engine(), at.session_state[state_keys.VOTE_SESSION])) == 2
    assert any("at most 2 votes a minute" in w.value for w in at.warning)


def test_every_galaxy_once_then_done():
    at = _page()
    seen = []
    for _ in range(7):
        seen.append(at.session_state[state_keys.VOTE_CURRENT])
        _vote_buttons(at)["DONT_KNOW"].click()
        at.run()
    assert len(set(seen)) == 7
    assert any("classified every galaxy" in s.value for s in at.success)
    assert "Download 7 galaxies" in next(b.label for b in at.get("download_button"))


def test_public_mode_offers_no_server_folder(monkeypatch):
    monkeypatch.setenv("GZ_MODE", "public")
    at = _page()
    assert at.radio[0].options == ["Built-in demo images", "Downloaded images"]
    _vote_buttons(at)["ELLIPTICAL"].click()
    at.run()
    assert not at.exception and len(session_votes(get_engine(), at.session_state[state_keys.VOTE_SESSION])) == 1


def test_unreachable_database_is_reported_without_the_url(monkeypatch):
    monkeypatch.setenv("GZ_VOTES_URL", "postgresql+psycopg://someone:secret@127.0.0.1:1/votes")
    at = _page()
    assert any("votes database cannot be opened" in e.value for e in at.error)
    assert not any("secret" in e.value for e in at.error)
    assert not _vote_buttons(at)


IN_SAMPLE, NOT_IN_SAMPLE = WITH_GZ1_VOTES, "588017991228391591"  # in / not in data/sample's 695 rows


@pytest.mark.parametrize("source", ["downloaded", "folder"])
def test_downloaded_images_and_a_confined_folder(source, isolated_home):
    images = isolated_home / "images"
    images.mkdir(parents=True)
    for objid in (IN_SAMPLE, NOT_IN_SAMPLE):
        shutil.copy(FIXTURES / "predict" / "gz1" / f"{objid}.jpg", images / f"{objid}.jpg")
    at = _page()
    at.radio[0].set_value(source).run()
    if source == "folder":
        at.text_input[0].set_value("/etc").run()
        assert any("outside the folders" in e.value for e in at.error) and not _vote_buttons(at)
        at.text_input[0].set_value(str(images)).run()
    for _ in range(2):
        assert not at.exception, [e.value for e in at.exception]
        shown = at.session_state[state_keys.VOTE_CURRENT]
        _vote_buttons(at)["EDGE_ON"].click()
        at.run()
        series = _reveal_series(at)
        if shown == IN_SAMPLE:  # the built-in sample (the current catalogue) has its GZ1 vote fractions
            assert series["GZ1 volunteers (vote fractions)"] == [0.448, 0.034, 0.0, 0.345, 0.172, 0.0]
        else:
            assert shown == NOT_IN_SAMPLE and any("no GZ1 answer" in c.value for c in at.caption)
    votes = session_votes(get_engine(), at.session_state[state_keys.VOTE_SESSION])
    assert sorted(v.galaxy_id for v in votes) == [IN_SAMPLE, NOT_IN_SAMPLE]
    assert {v.source for v in votes} == {"downloaded" if source == "downloaded" else "folder images"}


def _connected_from(monkeypatch: pytest.MonkeyPatch, address: str) -> None:
    """Make st.context report a browser connection from ``address`` (AppTest has no client connection;
    st.context reads headers and the peer address through this one function)."""
    import streamlit.runtime.context as context

    client = SimpleNamespace(headers=[("Host", "galaxies.example.org")], cookies={}, remote_ip=address)
    monkeypatch.setattr(context, "_get_client_context", lambda: client)


def test_a_reload_cannot_vote_twice_on_a_galaxy_nor_beat_the_rate_limit(monkeypatch):
    """Each AppTest is a new browser session (a reload, or another tab) from the same address."""
    import sqlalchemy as sa

    monkeypatch.setenv("GZ_VOTES_PER_MINUTE", "2")
    _connected_from(monkeypatch, "203.0.113.7")
    first = _page(showing=CLASS_ONLY)
    _vote_buttons(first)["ELLIPTICAL"].click()
    first.run()
    assert not first.exception, [e.value for e in first.exception]

    reload = _page(showing=CLASS_ONLY)  # the galaxy still on show in an old tab, or put back by a reload
    assert reload.session_state[state_keys.VOTE_SESSION] != first.session_state[state_keys.VOTE_SESSION]
    assert reload.session_state[state_keys.VOTE_CLIENT] == first.session_state[state_keys.VOTE_CLIENT]
    assert "203.0.113" not in reload.session_state[state_keys.VOTE_CLIENT]  # only a keyed hash
    assert {m.label: m.value for m in reload.metric}["Your votes"] == "1"  # the visitor's votes follow them
    _vote_buttons(reload)["MERGER"].click()
    reload.run()
    assert not reload.exception, [e.value for e in reload.exception]
    assert any("You already voted on this galaxy" in w.value for w in reload.warning)
    assert reload.session_state[state_keys.VOTE_CURRENT] != CLASS_ONLY  # moved on to another galaxy
    with get_engine().connect() as conn:
        assert conn.execute(sa.select(votes.c.answer).where(votes.c.galaxy_id == CLASS_ONLY)).scalars().all() == [
            "ELLIPTICAL"]

    _vote_buttons(reload)["MERGER"].click()  # the client's 2nd vote this minute: allowed
    reload.run()
    again = _page()  # yet another reload: a 3rd vote within the minute is refused
    assert again.session_state[state_keys.VOTE_CURRENT] not in {v.galaxy_id for v in session_votes(
        get_engine(), reload.session_state[state_keys.VOTE_SESSION])} | {CLASS_ONLY}  # never offers a voted galaxy
    _vote_buttons(again)["MERGER"].click()
    again.run()
    assert any("Slow down: 2 votes in the last minute" in w.value.replace("\\", "") for w in again.warning)
    with get_engine().connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(votes)).scalar() == 2
    assert {m.label: m.value for m in again.metric}["Visitors"] == "1"

    _connected_from(monkeypatch, "198.51.100.9")  # another visitor may vote on the same galaxy
    other = _page(showing=CLASS_ONLY)
    _vote_buttons(other)["MERGER"].click()
    other.run()
    assert not other.warning and {m.label: m.value for m in other.metric}["Visitors"] == "2"


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(monkeypatch):
    import streamlit.runtime.context as context

    monkeypatch.setenv("GZ_VOTES_PROXY_HOPS", "1")

    def via_proxy(forwarded: str) -> str:
        client = SimpleNamespace(headers=[("Host", "galaxies.example.org"), ("X-Forwarded-For", forwarded)],
                                 cookies={}, remote_ip="10.0.0.2")  # the proxy's own address
        monkeypatch.setattr(context, "_get_client_context", lambda: client)
        return _page().session_state[state_keys.VOTE_CLIENT]

    one = via_proxy("203.0.113.7")
    assert via_proxy("198.51.100.1, 203.0.113.7") == one  # a forged entry left of the proxy's is ignored
    assert via_proxy("203.0.113.8") != one


def _gz1_matrix_total(at: AppTest) -> int:
    chart = next(el for el in at.get("plotly_chart") if "visitors_vs_gz1" in el.proto.id)
    import base64

    import numpy as np

    text = json.loads(chart.proto.spec)["data"][0]["text"]  # the counts (z is each row's share)
    if isinstance(text, dict):  # plotly's typed-array encoding
        text = np.frombuffer(base64.b64decode(text["bdata"]), dtype=np.dtype(text["dtype"]))
    return int(np.asarray(text, dtype=float).sum())


def test_the_feedback_and_the_statistics_do_not_follow_the_chosen_set(isolated_home):
    """A vote's reveal is the one computed when it was cast, from its own set, and the score and the crowd
    figures cover the votes of every set: switching "Galaxies from" changes neither."""
    images = isolated_home / "images"
    images.mkdir(parents=True)
    shutil.copy(FIXTURES / "predict" / "gz1" / f"{NOT_IN_SAMPLE}.jpg", images / f"{NOT_IN_SAMPLE}.jpg")
    at = _page(showing=WITH_GZ1_VOTES)
    _vote_buttons(at)["ELLIPTICAL"].click()
    at.run()
    before = _reveal_series(at)
    metrics = {m.label: m.value for m in at.metric}
    assert "GZ1 volunteers (vote fractions)" in before and _gz1_matrix_total(at) == 1

    at.radio[0].set_value("downloaded").run()  # a set without the galaxy just voted on
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state[state_keys.VOTE_CURRENT] == NOT_IN_SAMPLE
    assert _reveal_series(at) == before and not any("no GZ1 answer" in c.value for c in at.caption)
    assert {m.label: m.value for m in at.metric} == metrics
    assert _gz1_matrix_total(at) == 1

    # A vote on the downloaded set (no GZ1 answer in the current catalogue), then back to the demo set.
    _vote_buttons(at)["MERGER"].click()
    at.run()
    assert any("no GZ1 answer" in c.value for c in at.caption)
    after = _reveal_series(at)
    score = {m.label: (m.value, m.proto.help) for m in at.metric}
    at.radio[0].set_value("demo").run()
    assert not at.exception, [e.value for e in at.exception]
    assert _reveal_series(at) == after and any("no GZ1 answer" in c.value for c in at.caption)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Your votes"] == metrics["Votes so far"] == "2"
    assert {m.label: (m.value, m.proto.help) for m in at.metric}["Match model"] == score["Match model"]
    assert "of 2 votes" in score["Match model"][1]  # both votes compared with the model, across the two sets
    assert _gz1_matrix_total(at) == 1 + 1  # the demo set knows NOT_IN_SAMPLE's GZ1 class
