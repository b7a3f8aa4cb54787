"""Show user-supplied strings (file names, CSV headers, OBJIDs, reasons) as text, never as Markdown.

Streamlit renders Markdown in ``st.caption``/``st.markdown``/``st.error`` and widget labels, so an
uploaded header like ``![x](http://host/p.png)`` would make every viewer's browser fetch that URL.
:func:`md_escape` backslash-escapes every Markdown/HTML-significant character, so the text shows
literally wherever Markdown is rendered.
"""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:=&\"'])")
#: Streamlit's Markdown also turns bare ``http://…``, ``www.…`` and ``a@b.c`` into links (GFM autolink
#: literals), which escaping cannot stop; a zero-width space after ``:``, ``www`` and ``@`` breaks them.
_AUTOLINK = re.compile(r"(?i)(://|\bwww(?=\.)|@)")
ZERO_WIDTH_SPACE = "\u200b"


def md_escape(value: object) -> str:
    """``value`` as text that Markdown shows literally (no links, images, HTML, autolinks or emphasis)."""
    text = str(value).replace("\r", " ").replace("\n", " ")
    text = _AUTOLINK.sub(lambda m: m.group(1)[0] + ZERO_WIDTH_SPACE + m.group(1)[1:], text)
    return _SPECIAL.sub(r"\\\1", text)
