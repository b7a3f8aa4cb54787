"""Embedding index and neighbour search: round trip, exclusion, order, refusals, resume."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.cli import main
from core.exit_codes import ExitCode
from core.explain.embed_set import embed_set, parts_dir
from core.explain.index_file import IndexFileError, read_index, write_index
from core.explain.neighbours import NeighbourIndex
from core.inference.galaxy_sets import set_from_folder
from core.inference.predict import load_run

REPO = Path(__file__).resolve().parents[2]
DEMO_MODEL = REPO / "models" / "demo"
OTHER_MODEL = REPO / "models" / "gz1-heldout"
GZ1 = REPO / "tests" / "fixtures" / "predict" / "gz1"


@pytest.fixture(scope="module")
def run():
    return load_run(DEMO_MODEL)


@pytest.fixture(scope="module")
def index_path(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("emb") / "gz1.parquet"
    code = main(["embed", "--model", str(DEMO_MODEL), "--images", str(GZ1), "--catalog", str(GZ1 / "labels.csv"),
                 "--out", str(out), "--no-progress"])
    assert code == ExitCode.OK
    return out


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_index_has_one_float32_row_per_galaxy_and_names_its_model(index_path):
    index = read_index(index_path)
    stems = sorted(p.stem for p in GZ1.glob("*.jpg"))
    assert sorted(index.ids) == stems
    assert index.vectors.dtype == np.float32 and index.vectors.shape == (len(stems), 112)
    assert index.meta["model_run"] == str(DEMO_MODEL) and len(index.meta["model_sha256"]) == 64
    assert index.meta["dim"] == 112 and index.meta["views"] == 4
    frame = pd.read_parquet(index_path)  # plain data: pandas reads it as it is
    assert list(frame.columns[:2]) == ["ID", "E0"] and frame["E5"].dtype == np.float32
    assert not parts_dir(index_path).exists()


def test_id_queries_exclude_themselves_and_come_nearest_first(index_path, capsys):
    ids = read_index(index_path).ids
    code = main(["similar", "--index", str(index_path), "--id", ids[0], "--id", ids[3], "-k", "20"])
    assert code == ExitCode.OK
    rows = _rows(capsys.readouterr().out)
    assert list(rows[0]) == ["QUERY", "RANK", "ID", "DISTANCE"]
    for query in (ids[0], ids[3]):
        mine = [r for r in rows if r["QUERY"] == query]
        assert len(mine) == len(ids) - 1              # everyone but the query itself
        assert query not in {r["ID"] for r in mine}
        assert [int(r["RANK"]) for r in mine] == list(range(1, len(ids)))
        dist = [float(r["DISTANCE"]) for r in mine]
        assert dist == sorted(dist) and dist[0] >= 0


def test_an_image_query_equals_its_own_ids_neighbours(index_path, tmp_path, capsys):
    gid = read_index(index_path).ids[2]
    out_id, out_image = tmp_path / "by_id.csv", tmp_path / "by_image.csv"
    assert main(["similar", "--index", str(index_path), "--id", gid, "-k", "4", "--out", str(out_id)]) == 0
    assert main(["similar", "--index", str(index_path), "--image", str(GZ1 / f"{gid}.jpg"), "--model",
                 str(DEMO_MODEL), "-k", "4", "--out", str(out_image)]) == 0
    by_id, by_image = _rows(out_id.read_text()), _rows(out_image.read_text())
    assert [r["ID"] for r in by_id] == [r["ID"] for r in by_image]
    assert [float(r["DISTANCE"]) for r in by_id] == pytest.approx([float(r["DISTANCE"]) for r in by_image],
                                                                   abs=1e-4)


def test_images_folder_queries_every_image(index_path, capsys):
    assert main(["similar", "--index", str(index_path), "--images", str(GZ1), "--model", str(DEMO_MODEL),
                 "-k", "2"]) == ExitCode.OK
    rows = _rows(capsys.readouterr().out)
    assert {r["QUERY"] for r in rows} == {p.stem for p in GZ1.glob("*.jpg")}
    assert all(r["QUERY"] != r["ID"] for r in rows)


def test_unusable_query_images_are_listed_and_the_others_answered(index_path, tmp_path, capsys):
    folder = tmp_path / "queries"
    shutil.copytree(GZ1, folder)
    (folder / "labels.csv").unlink()
    (folder / "text.jpg").write_bytes(b"not a jpeg at all")
    (folder / "empty.jpg").write_bytes(b"")
    code = main(["similar", "--index", str(index_path), "--images", str(folder), "--model", str(DEMO_MODEL),
                 "-k", "2"])
    assert code == ExitCode.FAILED  # "some of it failed": the good queries are still answered
    out, err = capsys.readouterr()
    assert {r["QUERY"] for r in _rows(out)} == {p.stem for p in GZ1.glob("*.jpg")}
    refused = [line for line in err.splitlines() if line.startswith("refused ")]
    assert len(refused) == 2
    assert any(str(folder / "text.jpg") in line and "not a JPEG or PNG" in line for line in refused)
    assert any(str(folder / "empty.jpg") in line and "empty" in line for line in refused)
    assert "2 of 9 queries refused" in err
    # --image FILE the same way, next to an --id query; a file that is not there is listed too.
    gid = read_index(index_path).ids[0]
    code = main(["similar", "--index", str(index_path), "--id", gid, "--image", str(tmp_path / "gone.jpg"),
                 "--image", str(folder / f"{gid}.jpg"), "--model", str(DEMO_MODEL), "-k", "1",
                 "--out", str(tmp_path / "near.csv")])
    assert code == ExitCode.FAILED
    err = capsys.readouterr().err
    assert f"refused {tmp_path / 'gone.jpg'}" in err and "cannot be read" in err
    assert [r["QUERY"] for r in _rows((tmp_path / "near.csv").read_text())] == [gid, gid]


def test_index_from_another_model_is_refused(index_path, capsys):
    code = main(["similar", "--index", str(index_path), "--image", str(next(GZ1.glob("*.jpg"))),
                 "--model", str(OTHER_MODEL), "-k", "3"])
    assert code == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert str(index_path) in err and "another model" in err


def test_unknown_id_is_refused_naming_it(index_path, capsys):
    code = main(["similar", "--index", str(index_path), "--id", "123456789", "-k", "3"])
    assert code == ExitCode.BAD_INPUT
    assert "ID 123456789 is not in the index" in capsys.readouterr().err


def test_wrong_shape_and_corrupt_files_are_refused(index_path, tmp_path, capsys):
    index = read_index(index_path)
    plain = tmp_path / "plain.parquet"
    pd.DataFrame({"ID": ["a", "b"], "E0": [0.1, 0.2]}).to_parquet(plain)
    with pytest.raises(IndexFileError, match="plain.parquet: not an embedding index"):
        read_index(plain)
    short = tmp_path / "short.parquet"
    write_index(short, index.ids, index.vectors[:, :5], index.meta)
    import pyarrow.parquet as pq

    table = pq.read_table(short)
    meta = json.loads(table.schema.metadata[b"gz_embedding"])
    pq.write_table(table.replace_schema_metadata({b"gz_embedding": json.dumps({**meta, "dim": 112}).encode()}),
                   short)
    with pytest.raises(IndexFileError, match="short.parquet: wrong shape"):
        read_index(short)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(index_path.read_bytes()[:300])
    code = main(["similar", "--index", str(broken), "--id", index.ids[0]])
    assert code == ExitCode.BAD_INPUT and "broken.parquet" in capsys.readouterr().err
    nan = tmp_path / "nan.parquet"
    vectors = index.vectors.copy()
    vectors[1, 3] = np.nan
    write_index(nan, index.ids, vectors, index.meta)
    with pytest.raises(IndexFileError, match=f"non-finite features \\(first ID {index.ids[1]}\\)"):
        read_index(nan)


def test_embed_resumes_and_refuses_to_mix_models(run, index_path, tmp_path):
    gset = set_from_folder(GZ1)
    out = tmp_path / "resume.parquet"
    first = embed_set(run, gset.head(3), out, chunk=2)
    assert (first.embedded, first.skipped, first.rows) == (3, 0, 3)
    # An interrupted later run left a part behind: it is kept and not redone.
    from core.explain.embed_set import index_meta

    part_ids = gset.ids[3:5]
    part_vec = read_index(index_path).vectors[[read_index(index_path).ids.index(i) for i in part_ids]]
    write_index(parts_dir(out) / "part-00000.parquet", part_ids, part_vec, index_meta(run, 4))
    second = embed_set(run, gset, out, chunk=2)
    assert (second.embedded, second.skipped, second.rows) == (len(gset) - 5, 5, len(gset))
    merged, fresh = read_index(out), read_index(index_path)
    assert sorted(merged.ids) == sorted(fresh.ids) and not parts_dir(out).exists()
    order = [fresh.ids.index(i) for i in merged.ids]
    np.testing.assert_allclose(merged.vectors, fresh.vectors[order], atol=1e-5)
    other = load_run(OTHER_MODEL)
    with pytest.raises(IndexFileError, match="resume.parquet: made by another model"):
        embed_set(other, gset, out)


def test_neighbour_search_is_exact_across_chunks():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 12)).astype(np.float32)
    pos, dist = NeighbourIndex(x, max_scores=7 * 64).search(x[:7], 5, exclude=list(range(7)))
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    sims = unit[:7] @ unit.T
    sims[np.arange(7), np.arange(7)] = -np.inf
    np.testing.assert_array_equal(pos, np.argsort(-sims, axis=1)[:, :5])
    np.testing.assert_allclose(dist, 1 - np.sort(sims, axis=1)[:, ::-1][:, :5], atol=1e-5)
