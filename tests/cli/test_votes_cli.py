"""``python -m core votes export|stats``: same numbers as the page's functions, exit codes from the table."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd

from core.exit_codes import ExitCode
from core.votes.aggregate import summary
from core.votes.store import make_engine, record_vote
from tests.support.paths import REPO_ROOT

G1, G2 = "587722982276399181", "587722982276399182"


def _cli(*args: str, env_url: str) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, "GZ_VOTES_URL": env_url}
    return subprocess.run([sys.executable, "-m", "core", "votes", *args], capture_output=True, text=True,
                          cwd=REPO_ROOT, env=env, timeout=120)


def test_export_and_stats(tmp_path):
    url = f"sqlite:///{tmp_path / 'votes.sqlite'}"
    engine = make_engine(url)
    for session, galaxy, answer in [("sess-aaaa", G1, "MERGER"), ("sess-bbbb", G1, "MERGER"),
                                    ("sess-aaaa", G2, "DONT_KNOW")]:
        record_vote(engine, session, galaxy, answer)
    out = tmp_path / "export.csv"
    done = _cli("export", str(out), "--min-votes", "2", env_url=url)
    assert done.returncode == ExitCode.OK, done.stderr
    assert "wrote 1 galaxy with at least 2 votes" in done.stdout
    table = pd.read_csv(out, dtype=str)
    assert table.to_dict("records") == [{"OBJID": G1, "NVOTE": "2", "P_EL": "0.0", "P_CW": "0.0", "P_ACW": "0.0",
                                         "P_EDGE": "0.0", "P_DK": "0.0", "P_MG": "1.0", "P_CS": "0.0"}]
    stats = _cli("stats", "--json", env_url=url)
    assert stats.returncode == ExitCode.OK
    assert json.loads(stats.stdout) == json.loads(json.dumps(summary(engine)))
    text = _cli("stats", env_url=url)
    assert "votes     3" in text.stdout and "galaxies  2" in text.stdout


def test_bad_options_and_outputs_give_the_documented_codes(tmp_path):
    url = f"sqlite:///{tmp_path / 'votes.sqlite'}"
    done = _cli("export", str(tmp_path / "x.csv"), "--min-votes", "0", env_url=url)
    assert done.returncode == ExitCode.BAD_INPUT and "--min-votes" in done.stderr
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    done = _cli("export", str(blocked / "x.csv"), env_url=url)
    assert done.returncode == ExitCode.OUTPUT_FAILED and "cannot write" in done.stderr
    done = _cli("stats", env_url="nosuchdriver://nowhere")
    assert done.returncode == ExitCode.BAD_INPUT and "cannot open the votes database" in done.stderr


def test_db_goes_before_or_after_the_action(tmp_path):
    url = f"sqlite:///{tmp_path / 'votes.sqlite'}"
    record_vote(make_engine(url), "sess-aaaa", G1, "MERGER")
    other = f"sqlite:///{tmp_path / 'other.sqlite'}"  # the environment's database is not the one asked for
    for args in (("--db", url, "stats", "--json"), ("stats", "--db", url, "--json")):
        done = subprocess.run([sys.executable, "-m", "core", "votes", *args], capture_output=True, text=True,
                              cwd=REPO_ROOT, timeout=120, env={**__import__("os").environ, "GZ_VOTES_URL": other})
        assert done.returncode == ExitCode.OK, done.stderr
        assert json.loads(done.stdout)["votes"] == 1


def test_export_into_a_missing_folder_is_refused_and_creates_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'votes.sqlite'}"
    record_vote(make_engine(url), "sess-aaaa", G1, "MERGER")
    out = tmp_path / "nope" / "dir" / "v.csv"
    done = _cli("export", str(out), env_url=url)
    assert done.returncode == ExitCode.BAD_INPUT
    assert str(out.parent) in done.stderr and "does not exist" in done.stderr
    assert not (tmp_path / "nope").exists()
    done = _cli("export", str(tmp_path / "v.csv"), env_url=url)
    assert "wrote 1 galaxy with at least 1 vote to" in done.stdout
