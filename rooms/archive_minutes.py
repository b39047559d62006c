"""The shared minutes in the archive: every room's minutes and the plenary's, read as plain
text (`minutes_part`, one of the archive's parts), and written in every format: a
"Minutes" section after the rooms (Markdown, Word; the HTML report's template), the
`minutes` table (CSV, Excel).

Minutes are what people typed: every format writes them as text, never as markup, with their
paragraphs and line breaks; they carry no names, so removing names leaves them as they are.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from rooms import minutes
from rooms.archive import Archive, Minutes
from rooms.archive_splits import Row
from rooms.archive_words import Translate, unchanged
from rooms.models import PLENARY

MINUTES_HEADER = ("room", "text")
# An Excel cell holds at most this many characters; longer minutes go on in the next rows.
XLSX_CELL_MAX = 32_767

# What no XML document (Word, Excel) may hold, and a spreadsheet would not show: control
# characters other than tab and line breaks, and the two non-characters.
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
# Markdown: every character that could be markup, and, at a line's start, what would begin
# a list or underline a heading.
_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>#|~&!"})
_MD_LINE_START = re.compile(r"^(\d*)([-+=.)])")


def written(text: str) -> str:
    """Minutes as every format can hold them: line breaks as "\\n", no control characters."""
    return _UNWRITABLE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


async def minutes_part(db: AsyncSession, session_id: str, names: bool) -> list[Minutes]:
    """Every room's minutes and the plenary's that hold any text (they name nobody)."""
    found = await minutes.texts_of_session(db, session_id)
    return [
        Minutes(None if room_id == PLENARY else room_id, written(text))
        for room_id, text in found.items()
    ]


def minutes_title(archive: Archive, held: Minutes, t: Translate = unchanged) -> str:
    """Whose minutes: the room's name, or "Plenary" in the reader's words."""
    return archive.room_name(held.room_id) or t("Plenary")


def minutes_json(archive: Archive) -> list[dict[str, Any]]:
    return [
        {"room_id": m.room_id, "room": archive.room_name(m.room_id), "text": m.text}
        for m in archive.minutes
    ]


# -- CSV and Excel ------------------------------------------------------------------------


def minutes_rows(archive: Archive, t: Translate = unchanged) -> list[Row]:
    """One row per room's minutes: the room (or "Plenary"), the whole text."""
    return [(minutes_title(archive, m, t), m.text) for m in archive.minutes]


def cell_sized(rows: Sequence[Row]) -> list[Row]:
    """The rows as Excel cells hold them: text over a cell's limit goes on in the next rows
    of the same room, parted after a line break where one is near (the cells together
    are the text)."""
    out: list[Row] = []
    for room, value in rows:
        text = str(value or "")
        while len(text) > XLSX_CELL_MAX:
            cut = text.rfind("\n", XLSX_CELL_MAX // 2, XLSX_CELL_MAX) + 1 or XLSX_CELL_MAX
            out.append((room, text[:cut]))
            text = text[cut:]
        out.append((room, text))
    return out


# -- Markdown -----------------------------------------------------------------------------


def md_line(line: str) -> str:
    """A line of minutes as Markdown that reads as typed: no markup, no list or heading."""
    return _MD_LINE_START.sub(r"\1\\\2", line.strip().translate(_MD_SPECIAL))


def md_paragraph(paragraph: str) -> str:
    """A paragraph's lines, each ending in a hard line break but the last."""
    return "\\\n".join(md_line(line) for line in paragraph.split("\n") if line.strip())


def md_minutes(archive: Archive, t: Translate = unchanged) -> list[str]:
    """The "Minutes" section of a Markdown report (nothing when no room wrote any)."""
    if not archive.minutes:
        return []
    out = ["", f"## {t('Minutes')}", ""]
    for held in archive.minutes:
        out += [f"### {md_line(minutes_title(archive, held, t))}", ""]
        for paragraph in held.paragraphs:
            out += [md_paragraph(paragraph), ""]
    return out


# -- Word ---------------------------------------------------------------------------------


def docx_minutes(doc: Any, archive: Archive, t: Translate = unchanged) -> None:
    """The "Minutes" section of a Word report: a heading per room, the text's paragraphs
    with their line breaks (nothing when no room wrote any)."""
    if not archive.minutes:
        return
    doc.add_heading(t("Minutes"), level=1)
    for held in archive.minutes:
        doc.add_heading(minutes_title(archive, held, t), level=2)
        for paragraph in held.paragraphs:
            # python-docx writes each "\n" as a line break within the paragraph.
            doc.add_paragraph(paragraph)
