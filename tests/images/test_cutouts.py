"""Cutout URL builders and settings validation (no network)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from core.images.cutouts import SDSS_NATIVE_SCALE, CutoutSettings, CutoutSettingsError, cutout_url


def test_dr18_url_has_skyserver_form():
    url = CutoutSettings(source="dr18", scale=0.396, width=256, height=200).url(189.072, 16.3774)
    assert url == ("https://skyserver.sdss.org/dr18/SkyServerWS/ImgCutout/getjpeg"
                   "?ra=189.0720000&dec=16.3774000&scale=0.396&width=256&height=200")


def test_dr7_url_has_original_tool_form():
    url = CutoutSettings(source="dr7", scale=0.40, width=423, height=423).url(203.366917, -5.48033)
    assert url == ("http://skyservice.pha.jhu.edu/DR7/ImgCutout/getjpeg.aspx"
                   "?ra=203.3669170&dec=-5.4803300&scale=0.4&width=423&height=423&opt=")


def test_base_url_override_keeps_the_source_style():
    s = CutoutSettings(source="dr7", base_url="http://127.0.0.1:9/DR7/ImgCutout/getjpeg.aspx", opt="G")
    q = parse_qs(urlsplit(s.url(10.0, 0.5)).query, keep_blank_values=True)
    assert s.url(10.0, 0.5).startswith("http://127.0.0.1:9/DR7/ImgCutout/getjpeg.aspx?")
    assert q["opt"] == ["G"] and q["scale"] == ["0.396"] and q["width"] == ["256"]


def test_environment_base_url_is_used_unless_set_explicitly(monkeypatch):
    monkeypatch.setenv("GZ_CUTOUT_BASE_URL", "http://127.0.0.1:1/getjpeg")
    assert CutoutSettings().url(1, 2).startswith("http://127.0.0.1:1/getjpeg?ra=1.0000000")
    assert CutoutSettings(base_url="https://mirror.example/getjpeg").url(1, 2).startswith("https://mirror.example/")


def test_defaults_are_sdss_native_and_valid():
    s = CutoutSettings().validated()
    assert s.scale == SDSS_NATIVE_SCALE and s.size == (256, 256)
    assert s.field_arcsec == pytest.approx((101.376, 101.376))


@pytest.mark.parametrize("changes, word", [
    ({"width": 63}, "width"), ({"height": 2049}, "height"), ({"width": 100.5}, "width"),
    ({"width": True}, "width"), ({"scale": 0}, "scale"), ({"scale": float("nan")}, "scale"),
    ({"scale": "abc"}, "scale"), ({"scale": 61}, "scale"), ({"source": "dr9"}, "source"),
    ({"base_url": "ftp://x/getjpeg"}, "base URL"), ({"opt": "G&x=1"}, "opt"),
])
def test_invalid_settings_are_refused_with_the_setting_named(changes, word):
    with pytest.raises(CutoutSettingsError, match=word):
        CutoutSettings(**changes).validated()


def test_size_limits_are_inclusive():
    CutoutSettings(width=64, height=2048).validated()


@pytest.mark.parametrize("ra, dec", [(360.0, 0.0), (-0.1, 0.0), (10.0, 90.5), (float("nan"), 0.0)])
def test_positions_out_of_range_are_refused(ra, dec):
    with pytest.raises(ValueError, match="RA|DEC"):
        cutout_url(ra, dec, CutoutSettings())
