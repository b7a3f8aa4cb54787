"""A start that fails before training (unusable data) never replaces the machine's current run."""

from __future__ import annotations

import pytest

from core.atomic import write_json_atomic
from core.config import get_settings
from core.jobs import JobStatus, read_job, read_json
from core.training.train import ACTIVE_RUN_FILE, Source, TrainConfig, TrainingError, active_run, run_training
from tests.support.paths import REPO_ROOT

LABELS = REPO_ROOT / "data" / "demo" / "gz1" / "labels.csv"


@pytest.mark.parametrize("had_current", [True, False])
def test_failed_start_keeps_the_current_run(had_current, tmp_path):
    models = get_settings().models_dir
    if had_current:
        write_json_atomic(models / ACTIVE_RUN_FILE, {"run_dir": str(tmp_path / "earlier")})
    empty = tmp_path / "no-images"
    empty.mkdir()
    config = TrainConfig(sources=[Source(str(LABELS), str(empty))], arch="small", epochs=1, threads=1)
    with pytest.raises(TrainingError):
        run_training(config, tmp_path / "bad", command="t")
    assert read_job(tmp_path / "bad").status == JobStatus.FAILED  # its own folder says why
    if had_current:
        assert active_run() == tmp_path / "earlier"
    else:
        assert read_json(models / ACTIVE_RUN_FILE) is None and active_run() is None
