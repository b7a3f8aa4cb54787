"""Your runs live in the workspace; the shipped models folder is listed and loaded but never written.

Issue 21 §5: ``gz train`` with no ``--out`` lands in ``<GZ_HOME>/runs`` with the training lock and the
active-run record beside it; the shipped folder (here a read-only copy of the repository's ``models/demo``,
as GZ_SHIPPED_MODELS_DIR) is listed, marked shipped and predicted with, and every file in it stays
byte-for-byte and mtime-for-mtime as it was; training into it or resuming a run in it exits 2.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from core.cli import main
from core.config import get_settings
from core.exit_codes import ExitCode
from core.inference.runs import default_run, list_runs, resolve_run, run_name
from core.training.resume import resume_point
from core.training.train import ACTIVE_RUN_FILE, TRAINING_LOCK, Source, TrainConfig, TrainingError, run_training
from tests.support.paths import REPO_ROOT
from tests.support.tiny_runs import make_run

GZ1 = REPO_ROOT / "data" / "demo" / "gz1"


def _snapshot(folder: Path) -> dict[str, tuple]:
    """Every entry under ``folder``: (kind, size, mtime_ns, SHA-256 of a file's bytes)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        st = path.stat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        out[str(path.relative_to(folder))] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns, digest)
    return out


def _chmod_tree(folder: Path, writable: bool) -> None:
    for path in [folder, *folder.rglob("*")]:
        path.chmod((0o755 if path.is_dir() else 0o644) if writable else (0o555 if path.is_dir() else 0o444))


@pytest.fixture
def shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the repository's shipped ``demo`` run, made read-only (a system-wide install), as the
    shipped models folder. Root ignores the mode bits, so the tests compare snapshots as well."""
    folder = tmp_path / "shipped"
    shutil.copytree(REPO_ROOT / "models" / "demo", folder / "demo")
    _chmod_tree(folder, writable=False)
    monkeypatch.setenv("GZ_SHIPPED_MODELS_DIR", str(folder))
    yield folder
    _chmod_tree(folder, writable=True)  # so that the tmp folder can be removed


@pytest.fixture
def labels(tmp_path: Path) -> Path:
    """Two GZ1 demo galaxies per class (12 images), class-derived labels."""
    table = pd.read_csv(GZ1 / "labels.csv", dtype=str).groupby("CLASS_NAME", sort=True).head(2)
    table.to_csv(tmp_path / "labels.csv", index=False)
    return tmp_path / "labels.csv"


def _train_args(labels: Path, *extra: str) -> list[str]:
    return ["train", "--catalog", str(labels), "--images", str(GZ1), "--crop-fraction", "0.45", "--model", "small",
            "--size", "24", "--width", "8", "--batch-size", "4", "--val-fraction", "0", "--threads", "1",
            "--no-progress", *extra]


def test_default_training_lands_in_the_workspace_and_the_shipped_folder_is_listed_never_written(
        shipped, labels, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GZ_MODELS_DIR")  # the default: <GZ_HOME>/runs
    settings = get_settings()
    assert settings.models_dir == settings.home / "runs"
    before = _snapshot(shipped)

    assert main(_train_args(labels, "--epochs", "1")) == ExitCode.OK
    runs = sorted(p.name for p in settings.models_dir.iterdir() if p.is_dir())
    assert len(runs) == 1 and runs[0].startswith("run-")
    run_dir = settings.models_dir / runs[0]
    assert (run_dir / "model.pt").is_file() and (run_dir / "config.json").is_file()
    # the runtime files live beside your runs, never in the shipped folder
    assert (settings.models_dir / TRAINING_LOCK).is_file()
    assert json.loads((settings.models_dir / ACTIVE_RUN_FILE).read_text())["run_dir"] == str(run_dir)

    listed = list_runs()
    assert [(r["run_id"], r["shipped"]) for r in listed] == [("demo", True), (runs[0], False)]
    assert [run_name(r) for r in listed] == ["demo (shipped)", runs[0]]
    assert default_run() == shipped / "demo" and resolve_run("demo") == shipped / "demo"

    image = next(GZ1.glob("*.jpg"))
    for model, out in (([], tmp_path / "shipped.csv"), (["--model", runs[0]], tmp_path / "mine.csv")):
        assert main(["predict", image.stem, str(image), *model, "--out", str(out), "--no-progress"]) == ExitCode.OK
        assert pd.read_csv(out, dtype=str)["ID"].tolist() == [image.stem]
    capsys.readouterr()
    assert _snapshot(shipped) == before  # listed, loaded and predicted with: nothing written, touched or locked


def test_training_into_or_resuming_a_shipped_run_is_refused_with_exit_2(shipped, labels, capsys):
    settings = get_settings()
    # A cancelled run of yours: resumable where it is...
    mine = settings.models_dir / "stopped"
    config = TrainConfig(sources=[Source(str(labels), str(GZ1), 0.45)], arch="small", width=8, image_size=24,
                         epochs=2, batch_size=4, val_fraction=0.0, threads=1)

    def cancel_in_epoch_two(epoch, b, n, loss):
        if epoch == 2:
            (mine / "CANCEL").write_text("t")

    assert run_training(config, mine, command="t", on_batch=cancel_in_epoch_two)["status"] == "cancelled"
    assert resume_point(mine) is not None
    # ... but never once it is a shipped run.
    _chmod_tree(shipped, writable=True)
    shutil.copytree(mine, shipped / "stopped")
    _chmod_tree(shipped, writable=False)
    before = _snapshot(shipped)
    assert resume_point(shipped / "stopped") is None
    with pytest.raises(TrainingError, match="read-only"):
        run_training(config, shipped / "stopped", command="t")

    for out, epochs in ((shipped / "stopped", "2"), (shipped / "demo", "99"), (shipped / "new-run", "1")):
        assert main(_train_args(labels, "--epochs", epochs, "--out", str(out))) == ExitCode.BAD_INPUT
        err = capsys.readouterr().err
        assert "shipped models folder" in err and "read-only" in err and str(settings.models_dir) in err
    assert _snapshot(shipped) == before and not (shipped / "new-run").exists()
    assert not (shipped / TRAINING_LOCK).exists() and not (shipped / ACTIVE_RUN_FILE).exists()


def test_a_run_of_yours_named_like_a_shipped_one_comes_first(shipped):
    settings = get_settings()
    mine = make_run(settings.models_dir / "demo")
    make_run(settings.models_dir / "other")
    assert default_run() == mine and resolve_run("demo") == mine and resolve_run(None) == mine
    listed = list_runs()
    assert [(r["run_id"], r["shipped"]) for r in listed][:2] == [("demo", False), ("demo", True)]
    assert resolve_run("no-such-run") == Path("no-such-run")  # for the caller to report as missing
    assert resolve_run(str(shipped / "demo")) == shipped / "demo"
