"""An event's registrations as a spreadsheet: CSV and XLSX, one row per registration.

The columns are the name, the email, each of the event's questions, the status, the place on
the waiting list and when they registered (in the configured time zone). The headers and
statuses are in the organiser's language; a Swedish CSV is `;`-separated (the separator a
Swedish Excel splits on), an English one `,`; both start with a byte order mark so Excel
reads å, ä and ö. Every text cell that a spreadsheet could run as a formula is written as
text, as in the archive (`rooms.archive_formats`).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from rooms.archive_formats import FORMULA_STARTS, inert
from rooms.archive_words import Translate
from rooms.models import Conference, Registration

Cell = str | int | datetime | None

# The statuses as the organiser reads them (translated by the caller's `t`).
STATUS_WORDS = {"applied": "Applied", "selected": "Selected", "waitlisted": "Waitlisted"}
# A column is as wide as its longest cell, within these (in characters): a long answer
# wraps in the sheet rather than pushing the next column off screen.
WIDTH_MIN, WIDTH_MAX = 8, 50
MOMENT_FORMAT = "%Y-%m-%d %H:%M"


def _same(text: str) -> str:
    return text


def delimiter(locale: str) -> str:
    """The separator a spreadsheet of that language splits a CSV on."""
    return ";" if locale == "sv" else ","


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    """A stored moment (UTC, naive) as a wall-clock time in the zone, without its offset."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(zone).replace(tzinfo=None, microsecond=0)


def table(
    conference: Conference,
    registrations: Sequence[Registration],
    *,
    t: Translate = _same,
    time_zone: str = "Europe/Stockholm",
) -> tuple[list[str], list[list[Cell]]]:
    """The header and the rows, as values: the formats below write them out."""
    zone = ZoneInfo(time_zone)
    questions = [(a["key"], str(a["label"])) for a in conference.attributes]
    header = [t("Name"), t("Email"), *(label for _, label in questions)]
    header += [t("Status"), t("Waiting list place"), t("Registered at")]
    rows: list[list[Cell]] = []
    for r in registrations:
        row: list[Cell] = [r.name, r.email]
        row += [r.attributes.get(key) for key, _ in questions]
        row += [t(STATUS_WORDS.get(r.status, r.status)), r.place, _local(r.created_at, zone)]
        rows.append(row)
    return header, rows


def registrations_csv(
    conference: Conference,
    registrations: Sequence[Registration],
    locale: str,
    *,
    t: Translate = _same,
    time_zone: str = "Europe/Stockholm",
) -> bytes:
    """The registrations as CSV in the locale's dialect, UTF-8 with a byte order mark."""
    header, rows = table(conference, registrations, t=t, time_zone=time_zone)
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter(locale), lineterminator="\r\n")
    writer.writerow([inert(h) for h in header])
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
    return buf.getvalue().encode("utf-8-sig")


def _csv_cell(value: Cell) -> str | int:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime(MOMENT_FORMAT)
    if isinstance(value, str):
        return inert(value)
    return value


def registrations_xlsx(
    conference: Conference,
    registrations: Sequence[Registration],
    locale: str,
    *,
    t: Translate = _same,
    time_zone: str = "Europe/Stockholm",
) -> bytes:
    """The registrations as one sheet (named in the locale's language): a bold, frozen
    header, columns as wide as their contents, text cells stored as text."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    header, rows = table(conference, registrations, t=t, time_zone=time_zone)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _sheet_title(t("Registrations"))
    widths = [len(h) for h in header]
    lines: list[list[Cell]] = [list(header), *rows]
    for at, row in enumerate(lines, start=1):
        for column, value in enumerate(row, start=1):
            cell = sheet.cell(row=at, column=column)
            if isinstance(value, str):
                cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)
                # openpyxl stores a text starting with "=" as a formula; force text, and the
                # quote prefix keeps it text when someone edits the cell.
                cell.data_type = "s"
                if value.startswith(FORMULA_STARTS):
                    cell.quotePrefix = True
                widths[column - 1] = max(widths[column - 1], len(value))
            elif isinstance(value, datetime):
                cell.value = value
                cell.number_format = "yyyy-mm-dd hh:mm"
                widths[column - 1] = max(widths[column - 1], len(MOMENT_FORMAT) + 2)
            else:
                cell.value = value
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    for column, width in enumerate(widths, start=1):
        letter = get_column_letter(column)
        sheet.column_dimensions[letter].width = min(max(width + 2, WIDTH_MIN), WIDTH_MAX)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def _sheet_title(text: str) -> str:
    # Excel's rules for a sheet's name: at most 31 characters, none of []:*?/\.
    return re.sub(r"[\[\]:*?/\\]", "", text)[:31] or "Sheet"


def file_name(conference: Conference, today: datetime, extension: str) -> str:
    """`samla-registrations-<title>-<date>.<ext>`, ASCII so every system keeps it."""
    plain = unicodedata.normalize("NFKD", conference.title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")[:60].rstrip("-") or "event"
    return f"samla-registrations-{slug}-{today.strftime('%Y-%m-%d')}.{extension}"
