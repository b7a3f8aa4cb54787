"""The embedding map's core: PCA projection, joining labels by ID, and cutting label files to a selection."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.explain.index_file import IndexFileError, read_index, write_index
from core.explain.map_table import galaxies_for, map_table, selection_csv
from core.explain.projection import ProjectionError, pca_2d, project_files
from core.explain.selection import labels_subset
from core.inference.galaxy_sets import combine_sets, demo_sets
from core.schema import LabelKind

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "data" / "demo"
GZ1, SPIN = DEMO / "embeddings" / "gz1.parquet", DEMO / "embeddings" / "spin.parquet"


@pytest.fixture(scope="module")
def demo():
    return combine_sets(demo_sets(DEMO), "demo")


def test_pca_matches_the_variance_of_unit_rows_and_is_deterministic():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(300, 6)) * np.array([5.0, 2.0, 1.0, 0.5, 0.2, 0.1])
    xy, explained = pca_2d(base.astype(np.float32))
    unit = base / np.linalg.norm(base, axis=1, keepdims=True)
    centred = unit - unit.mean(axis=0)
    eig = np.sort(np.linalg.eigvalsh(np.cov(centred.T)))[::-1]
    assert explained == pytest.approx(tuple(eig[:2] / eig.sum()), rel=1e-6)
    assert np.var(xy, axis=0, ddof=1) == pytest.approx(eig[:2], rel=1e-6)
    # The map follows cosine geometry: rescaling a galaxy's vector does not move it.
    scaled = base * rng.uniform(0.1, 10, size=(300, 1))
    np.testing.assert_allclose(pca_2d(scaled)[0], xy, atol=1e-6)  # xy came from float32 input
    # The sign is fixed, so the same data always gives the same picture (also with the rows reversed).
    np.testing.assert_allclose(pca_2d(base[::-1])[0][::-1], xy, atol=1e-6)
    with pytest.raises(ProjectionError, match="at least 2 galaxies"):
        pca_2d(base[:1])


def test_demo_files_map_together_and_join_their_labels_by_id(demo):
    projection = project_files([GZ1, SPIN])
    gz1, spin = read_index(GZ1), read_index(SPIN)
    assert projection.ids == gz1.ids + spin.ids and len(projection.ids) == 581
    assert projection.source == ["gz1"] * 341 + ["spin"] * 240
    assert np.isfinite(projection.x).all() and 0 < sum(projection.explained) < 1
    gset = galaxies_for(projection.ids, [demo])
    assert gset.files == demo.files  # the same set in the same order: the Predict page's cache is shared
    frame = map_table(projection, gset)
    labels = pd.read_csv(DEMO / "gz1" / "labels.csv", dtype=str).set_index("OBJID")
    ell = labels.index[labels["CLASS_NAME"] == "ELLIPTICAL"][0]
    row = frame.set_index("ID").loc[ell]
    assert row["HUMAN P_EL"] == 1.0 and row["HUMAN_TOP"] == "ELLIPTICAL" and row["LABEL_KIND"] == LabelKind.CLASS
    first_spin = frame.set_index("ID").loc[spin.ids[0]]
    spin_labels = pd.read_csv(DEMO / "spin" / "labels.csv")
    assert first_spin["HUMAN P_ACW"] == pytest.approx(float(spin_labels["GZ1_P_ACW"][0]))
    assert first_spin["HUMAN_TOP"] == "" and np.isnan(first_spin["HUMAN P_EL"])  # spin fractions only
    fractions = np.tile(np.linspace(0.1, 0.9, 9), (len(gset), 1))
    learned = np.ones(9, dtype=bool)
    learned[-1] = False
    with_model = map_table(projection, gset, fractions, learned)
    assert with_model["MODEL P_EL"].eq(0.1).all() and with_model["MODEL P_CS_DEBIASED"].isna().all()
    assert set(with_model["MODEL_TOP"]) == {"MERGER"}
    text = selection_csv(with_model, [ell, spin.ids[0]]).decode()
    chosen = pd.read_csv(io.StringIO(text), dtype={"ID": str})
    assert list(chosen["ID"]) == [ell, spin.ids[0]] and "IMAGE" not in chosen and "MODEL P_EL" in chosen


def test_unlabelled_galaxies_are_found_in_folders_and_missing_ones_listed(tmp_path, demo):
    folder = tmp_path / "images"
    folder.mkdir()
    shutil.copy(next((DEMO / "gz1").glob("*.jpg")), folder / "NEW1.png")
    gset = galaxies_for([demo.ids[0], "NEW1", "GONE"], [demo], [folder])
    assert gset.ids == [demo.ids[0], "NEW1"] and gset.missing == ["GONE"]
    assert gset.files[1] == folder / "NEW1.png" and np.isnan(gset.targets[1]).all()
    assert gset.targets[0][0] == demo.targets[0][0]


def test_wrong_shape_and_mixed_model_files_are_refused_naming_the_file(tmp_path):
    plain = tmp_path / "plain.parquet"
    pd.DataFrame({"ID": ["a", "b"], "E0": [0.1, 0.2]}).to_parquet(plain)
    with pytest.raises(IndexFileError, match="plain.parquet: not an embedding index"):
        project_files([plain])
    spin = read_index(SPIN)
    other = tmp_path / "other.parquet"
    write_index(other, spin.ids, spin.vectors, {**spin.meta, "model_sha256": "0" * 64, "model_run": "models/x"})
    with pytest.raises(IndexFileError, match="other.parquet: made by another model"):
        project_files([GZ1, other])
    one = tmp_path / "one.parquet"
    write_index(one, spin.ids[:1], spin.vectors[:1], spin.meta)
    with pytest.raises(ProjectionError, match="at least 2 galaxies"):
        project_files([one])


def test_label_files_are_cut_to_the_selection_by_objid_or_file_stem():
    gz1 = pd.read_csv(DEMO / "gz1" / "labels.csv", dtype=str)
    spin = pd.read_csv(DEMO / "spin" / "labels.csv", dtype=str, keep_default_na=False)
    ids = [gz1["OBJID"][5], Path(spin["FILE"][7]).stem, "nobody"]
    data, n = labels_subset(DEMO / "gz1" / "labels.csv", ids)
    assert n == 1 and pd.read_csv(io.BytesIO(data), dtype=str).equals(gz1.iloc[[5]].reset_index(drop=True))
    data, n = labels_subset(DEMO / "spin" / "labels.csv", ids)
    kept = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    assert n == 1 and kept.iloc[0].tolist() == spin.iloc[7].tolist()  # every cell as written


def test_map_files_are_found_bad_ones_named_and_their_model_identified(tmp_path):
    from core.explain.index_lookup import find_indexes, map_folders, run_with_weights

    run = tmp_path / "runs" / "mine"
    (run / "embeddings").mkdir(parents=True)
    (run / "embeddings" / "broken.parquet").write_bytes(b"PAR1 not really")
    folders = map_folders(DEMO, [run, tmp_path / "runs" / "absent"])
    found, refused = find_indexes(folders)
    assert list(found) == [str(GZ1), str(SPIN)] and found[str(GZ1)]["dim"] == 112
    assert len(refused) == 1 and "broken.parquet" in refused[0]
    sha = found[str(GZ1)]["model_sha256"]
    assert run_with_weights(sha, [run, REPO / "models" / "gz1-heldout", REPO / "models" / "demo"]) == \
        REPO / "models" / "demo"
    assert run_with_weights("0" * 64, [REPO / "models" / "demo"]) is None
