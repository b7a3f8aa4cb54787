"""ui.plain_text.md_escape: user text shows literally wherever Streamlit renders Markdown."""

from __future__ import annotations

import re

from ui.plain_text import ZERO_WIDTH_SPACE, md_escape


def test_markdown_syntax_is_escaped_and_autolinks_are_broken() -> None:
    text = "![x](http://127.0.0.1:9/p.png) [a](https://e.org) <b>*bold*</b> www.e.org me@e.org"
    escaped = md_escape(text)
    for raw in ("![x](", "[a](", "<b>", "*bold*", "http://", "https://", "www.", "@e"):
        assert raw not in escaped
    # What a reader sees: the same characters, only with invisible zero-width spaces.
    assert re.sub(r"\\(.)", r"\1", escaped).replace(ZERO_WIDTH_SPACE, "") == text
    assert md_escape("line\nbreak\r") == "line break "
