"""The six GZ1 answers as visitors see them: button wording, keyboard key and Table-2 column.

Galaxy Zoo 1 asked one question per galaxy with six buttons (Lintott et al. 2008, Fig. 1;
Land et al. 2008, Table 1). "Clockwise" was also called *Z-wise* and "anticlockwise"
*S-wise*: the sense in which the galaxy would spin if its arms trail behind the rotation,
as seen in the image. A Z-wise (clockwise) spiral's arms, followed outward from the
centre, curve anticlockwise, like the strokes of the letter Z.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.schema import CLASS_NAMES, RAW_COLUMNS


@dataclass(frozen=True)
class Answer:
    """One GZ1 answer: ``code`` (CLASS_NAMES entry, stored in the votes table), ``column``
    (its Table-2 fraction column), ``wording`` (the button text), ``key`` (keyboard shortcut)."""

    code: str
    column: str
    wording: str
    key: str


#: The GZ1 button texts, aligned with RAW_COLUMNS / CLASS_NAMES.
_WORDING: tuple[str, ...] = (
    "Elliptical",
    "Clockwise spiral",
    "Anticlockwise spiral",
    "Spiral, edge-on or direction unclear",
    "Star or don't know",
    "Merger",
)

#: The six answers in Table-2 order; keys 1-6.
ANSWERS: tuple[Answer, ...] = tuple(
    Answer(code, column, wording, str(i + 1))
    for i, (code, column, wording) in enumerate(zip(CLASS_NAMES, RAW_COLUMNS, _WORDING, strict=True))
)

#: Stored answer code -> position 0..5 in RAW_COLUMNS order.
ANSWER_INDEX: dict[str, int] = {a.code: i for i, a in enumerate(ANSWERS)}


def answer_for(code: str) -> Answer:
    """The Answer with this stored code; ValueError naming the allowed codes otherwise."""
    try:
        return ANSWERS[ANSWER_INDEX[code]]
    except KeyError:
        raise ValueError(f"answer {code!r} is not one of {', '.join(ANSWER_INDEX)}") from None
