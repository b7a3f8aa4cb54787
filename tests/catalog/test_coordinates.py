"""Sexagesimal -> degrees: astropy agreement on every real row, the worked example, signs and shapes."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord

from core.catalog.reader import load_catalog, load_sample
from core.catalog.sexagesimal import dec_dms_to_degrees, parse_dec_dms, parse_ra_hms, ra_hms_to_degrees
from tests.conftest import FIXTURES

MAS_IN_DEG = 1.0 / 3.6e6


def test_agrees_with_astropy_within_1_mas_on_every_sample_row() -> None:
    table = load_sample().table
    assert len(table) == 695
    coords = SkyCoord(list(table["RA_STR"]), list(table["DEC_STR"]), unit=(u.hourangle, u.deg))
    ra_err = np.abs(coords.ra.deg - table["RA"].to_numpy())
    dec_err = np.abs(coords.dec.deg - table["DEC"].to_numpy())
    assert ra_err.max() < MAS_IN_DEG, ra_err.max() / MAS_IN_DEG
    assert dec_err.max() < MAS_IN_DEG, dec_err.max() / MAS_IN_DEG


def test_worked_example() -> None:
    result = load_catalog(FIXTURES / "catalog" / "objid_ra_dec.csv")
    row = result.table.iloc[0]
    assert row["OBJID"] == "587727178986356823"
    assert row["RA_STR"] == "00:00:00.41" and row["DEC_STR"] == "-10:22:25.7"
    assert round(row["RA"], 8) == 0.00170833
    assert round(row["DEC"], 8) == -10.37380556


def test_negative_zero_degrees_keeps_its_sign() -> None:
    dec = dec_dms_to_degrees(["-00:59:31.2", "+00:59:31.2", "00:59:31.2", "-00:00:00.5"])
    np.testing.assert_allclose(dec, [-0.992, 0.992, 0.992, -0.5 / 3600], rtol=0, atol=1e-12)
    real = load_sample().table
    negative_zero = real[real["DEC_STR"].str.startswith("-00:")]
    assert len(negative_zero) == 19 and (negative_zero["DEC"] < 0).all()


def test_ra_is_hours_times_15() -> None:
    np.testing.assert_allclose(
        ra_hms_to_degrees(["00:00:00.00", "01:00:00.00", "12:30:00", "23:59:59.99"]),
        [0.0, 15.0, 187.5, 359.99995833333333], rtol=0, atol=1e-12,
    )


def test_separators_spaces_and_plus_are_optional_and_match_astropy() -> None:
    ra_text = ["10 17 48.34", "10:17:48.34", " 10:17:48.34 "]
    dec_text = ["+32 34 29.4", "32:34:29.4", "+32:34:29.4"]
    ra = ra_hms_to_degrees(ra_text)
    dec = dec_dms_to_degrees(dec_text)
    reference = SkyCoord("10:17:48.34", "+32:34:29.4", unit=(u.hourangle, u.deg))
    assert np.all(np.abs(ra - reference.ra.deg) < MAS_IN_DEG)
    assert np.all(np.abs(dec - reference.dec.deg) < MAS_IN_DEG)


@pytest.mark.parametrize("text", ["", "abc", "10:17", "10:61:00", "10:00:60", "1:2:3:4", "10-17-48", None])
def test_unparseable_values_are_flagged_not_guessed(text: str | None) -> None:
    parsed = parse_ra_hms([text])
    assert not parsed.parsed[0] and not parsed.in_range[0] and np.isnan(parsed.degrees[0])


def test_out_of_range_values_parse_but_are_not_in_range() -> None:
    ra = parse_ra_hms(["24:00:00.00", "-01:00:00"])
    assert ra.parsed.all() and not ra.in_range.any()
    dec = parse_dec_dms(["+90:00:00.0", "-90:00:00.0", "+90:00:00.1", "-91:00:00"])
    assert dec.parsed.all()
    assert list(dec.in_range) == [True, True, False, False]
