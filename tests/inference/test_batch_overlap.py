"""Overlapped prediction (images prepared in threads while the model runs) writes exactly what the old path wrote."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from core.inference.batch import predict_set, shared_cores
from core.inference.galaxy_sets import combine_sets, set_from_folder
from core.inference.predict import load_run
from tests.support.tiny_runs import FIXTURES, make_run


@pytest.fixture
def mixed(tmp_path: Path):
    """Two folders with different crops (one framed by the galaxy), with refused images among the good ones."""
    gz1, spin = tmp_path / "gz1", tmp_path / "spin"
    shutil.copytree(FIXTURES / "gz1", gz1)
    shutil.copytree(FIXTURES / "spin", spin)
    (gz1 / "588000000000000000.jpg").write_bytes(b"not a jpeg")
    good = (spin / "ra11.876000_dec+16.136900.jpg").read_bytes()
    (spin / "ra0.000000_dec+00.000000.jpg").write_bytes(good[: len(good) // 2])  # truncated
    run = make_run(tmp_path / "run", crop_fraction=None, extra_config={
        "sources": [{"images": str(gz1), "crop_fraction": None}, {"images": str(spin), "crop_fraction": 0.6}]})
    gset = combine_sets([set_from_folder(gz1), set_from_folder(spin)], "mixed")
    return load_run(run), gset


@pytest.mark.parametrize("chunk", [4, 16])  # 16: one chunk, crop groups spanning several batches
def test_overlapped_output_is_byte_identical_to_sequential(mixed, tmp_path: Path, chunk: int):
    model, gset = mixed
    old = predict_set(model, gset, out_csv=tmp_path / "old.csv", chunk=chunk, batch_size=3, workers=0)
    assert len(old.failed) == 2 and {"588000000000000000", "ra0.000000_dec+00.000000"} == {f[0] for f in old.failed}
    for workers in (None, 1, 3):
        out = tmp_path / f"new-{workers}.csv"
        new = predict_set(model, gset, out_csv=out, chunk=chunk, batch_size=3, workers=workers)
        assert out.read_bytes() == (tmp_path / "old.csv").read_bytes()
        assert new.failed == old.failed
        np.testing.assert_array_equal(new.fractions, old.fractions)  # NaN rows where refused, in place


def test_overlapped_run_resumes_and_restores_torch_threads(mixed, tmp_path: Path):
    model, gset = mixed
    full = tmp_path / "full.csv"
    predict_set(model, gset, out_csv=full, chunk=4, workers=0)
    lines = full.read_bytes().splitlines(keepends=True)
    part = tmp_path / "part.csv"
    part.write_bytes(b"".join(lines[:5]) + lines[5][:7])  # four rows, then a row cut off by a kill
    before = torch.get_num_threads()

    def stop_after_first_chunk(done: int, total: int) -> None:
        if done >= 4:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        predict_set(model, gset, out_csv=part, chunk=4, progress=stop_after_first_chunk)
    assert torch.get_num_threads() == before  # the model's share is given back, even on an interrupt
    resumed = predict_set(model, gset, out_csv=part, chunk=4)
    assert resumed.skipped > 4  # the interrupted run kept its first chunk
    assert part.read_bytes() == full.read_bytes()
    assert torch.get_num_threads() == before


def test_shared_cores_splits_and_restores_the_budget():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(4)
        with shared_cores() as outer:
            assert outer == 4 and torch.get_num_threads() == 2
            with shared_cores(3) as inner:  # a concurrent run shares the same budget
                assert inner == 3 and torch.get_num_threads() == 2
            assert torch.get_num_threads() == 2
        assert torch.get_num_threads() == 4
        with shared_cores(0) as none:
            assert none == 0 and torch.get_num_threads() == 4
        with pytest.raises(ValueError, match="workers must be 0"):
            with shared_cores(-1):
                pass
    finally:
        torch.set_num_threads(before)
