"""core.images.matching: how many images a folder holds, how many a catalogue's IDs match, and why none do;
and the shipped built-in catalogue and built-in images stay the same galaxies."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from core.catalog.reader import load_catalog
from core.images.folder import list_cutouts
from core.images.matching import mapped_catalog, mapped_dir, match_images
from tests.support.paths import REPO_ROOT

DATA = REPO_ROOT / "data"


def _images(folder: Path, *stems: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for stem in stems:
        Image.new("RGB", (8, 8), (90, 60, 30)).save(folder / f"{stem}.jpg")
    return folder


def test_some_matched_explains_nothing(tmp_path):
    folder = _images(tmp_path / "img", "111", "222", "333")
    match = match_images(["222", "444", " 333 "], folder, data_dir=DATA)
    assert (match.n_ids, match.n_images, match.n_matched) == (3, 3, 2)
    assert match.explanation() == ""


def test_none_matched_says_how_many_images_and_why(tmp_path):
    folder = _images(tmp_path / "img", "111", "222")
    text = match_images(["587739156582301791"], folder, data_dir=DATA).explanation()
    assert "The folder holds 2 images, none named after an OBJID of this catalogue (e.g. 111.jpg" in text
    assert "this catalogue's IDs look like 587739156582301791" in text
    assert "built-in galaxies with images" in text  # where images and a catalogue do belong together


def test_built_in_images_in_the_folder_are_named_as_such(tmp_path):
    shipped = [p.stem for p in list_cutouts(mapped_dir(DATA))][:3]
    folder = _images(tmp_path / "img", *shipped)
    text = match_images(["587739156582301791"], folder, data_dir=DATA).explanation()
    assert "3 of them are galaxies of the built-in catalogue \"galaxies with images\"" in text


def test_empty_and_missing_folders(tmp_path):
    assert "holds no images yet" in match_images(["1"], _images(tmp_path / "empty"), data_dir=DATA).explanation()
    missing = match_images(["1"], tmp_path / "nope", data_dir=DATA)
    assert not missing.folder_exists and missing.n_images == 0
    assert "does not exist yet" in missing.explanation()


def test_the_built_in_catalogue_and_built_in_images_are_the_same_galaxies():
    """The shipped data/sample/mapped keeps the offline journey connected: every catalogue row has its
    image, every image its row and its source label, and the positions are real sky positions."""
    result = load_catalog(mapped_catalog(DATA))
    assert result.report.n_rejected == 0 and result.has_positions
    ids = set(result.table["OBJID"])
    stems = {p.stem for p in list_cutouts(mapped_dir(DATA))}
    assert len(ids) >= 30 and ids == stems
    assert match_images(result.table["OBJID"], mapped_dir(DATA), data_dir=DATA).n_matched == len(ids)
    labels = (mapped_dir(DATA) / "labels.csv").read_text().splitlines()
    assert {line.split(",")[0] for line in labels[1:]} == ids
    assert result.table["RA"].between(0, 360).all() and result.table["DEC"].between(-90, 90).all()
    # The one galaxy it shares with the built-in 695-row sample sits at the sample's position.
    sample = load_catalog(REPO_ROOT / "data" / "sample" / "gz1_table2_sample695.csv").table.set_index("OBJID")
    shared = ids & set(sample.index)
    assert shared == {"587738947208085695"}
    row = result.table.set_index("OBJID").loc["587738947208085695"]
    assert abs(row.RA - sample.loc["587738947208085695", "RA"]) < 1e-5
