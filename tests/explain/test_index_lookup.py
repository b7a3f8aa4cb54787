"""Finding the index that matches a run, and one-image queries (the pages' helpers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.explain.index_file import read_index
from core.explain.index_lookup import embed_command, image_vector, index_dirs, matching_indexes
from core.images.reading import open_image
from core.inference.predict import crop_for_images, load_run

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "data" / "demo"


def test_demo_model_finds_the_builtin_indexes_and_other_runs_none(tmp_path: Path):
    demo = load_run(REPO / "models" / "demo")
    (tmp_path / "embeddings").mkdir()
    (tmp_path / "embeddings" / "junk.parquet").write_bytes(b"not parquet")  # skipped, not fatal
    found = matching_indexes(demo, [tmp_path / "embeddings"] + index_dirs(demo.run_dir, DEMO)[1:])
    assert [p.name for p in found] == ["gz1.parquet", "spin.parquet"]
    other = load_run(REPO / "models" / "gz1-heldout")
    assert matching_indexes(other, index_dirs(other.run_dir, DEMO)) == []
    cmd = embed_command("models/gz1-heldout", "data/demo/gz1")
    assert cmd == ("python -m core embed --model models/gz1-heldout --images data/demo/gz1 "
                   "--out models/gz1-heldout/embeddings/gz1.parquet")


def test_image_vector_equals_the_indexed_row():
    demo = load_run(REPO / "models" / "demo")
    index = read_index(DEMO / "embeddings" / "gz1.parquet")
    gid = index.ids[0]
    path = DEMO / "gz1" / f"{gid}.jpg"
    vec = image_vector(demo, open_image(path), int(index.meta["views"]), crop_for_images(demo, path.parent))
    np.testing.assert_allclose(vec, index.vectors[0], rtol=1e-4, atol=1e-5)
