"""The event's archive written out: JSON, Markdown, Word, CSV, Excel and a zip of them all.

Each session's part is the session archive's own writer's output (`rooms.archive_formats`),
so a session reads the same in the event's report as in its own, in the same language,
numbers and times; this module adds the event's parts around them. Word: the session's
document is appended with its headings one level down. Markdown: likewise. CSV and Excel:
each session's rows with a `session` column in front, the columns being the union of the
sessions' (their good-example cards may ask different fields). HTML needs templates, so it
is rendered in `live/api/event_archive.py`; `event_zip_bytes` takes its bytes.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterable, Sequence
from copy import deepcopy
from dataclasses import asdict
from datetime import datetime
from typing import Any

from rooms import archive_formats as formats
from rooms import archive_office as office
from rooms.archive import headline
from rooms.archive_words import Translate, unchanged, words_of
from rooms.events.archive import EventArchive

# The session's headings go one level down under the event's; Word has nine levels.
_DEEPEST = 9


# -- JSON ---------------------------------------------------------------------------------


def event_json(archive: EventArchive) -> dict[str, Any]:
    """The event's archive as data; its shape is described in docs/archive.md."""
    return {
        "format": "samla-event-archive",
        "version": 1,
        "made_at": archive.made_at,
        "names": archive.names,
        "event": asdict(archive.event),
        "report": None if archive.edited is None else asdict(archive.edited),
        "sessions": [formats.archive_json(s) for s in archive.sessions],
        "top_notes": [
            {
                "column": leaders.column,
                "notes": [
                    {
                        "note": asdict(n.note),
                        "session_id": n.session_id,
                        "session_title": n.session_title,
                        "board_title": n.board_title,
                        "room": n.room,
                    }
                    for n in leaders.notes
                ],
            }
            for leaders in archive.top_notes
        ],
        "polls_side_by_side": [
            {
                "id": p.poll.id,
                "question": p.poll.question,
                "kind": p.poll.kind,
                "session_id": p.session_id,
                "session_title": p.session_title,
                "room_id": p.poll.room_id,
                "room": p.room,
                "voters": p.poll.voters,
                "headline": headline(p.poll),
            }
            for p in archive.polls
        ],
    }


def event_json_bytes(archive: EventArchive) -> bytes:
    return json.dumps(event_json(archive), ensure_ascii=False, indent=2).encode()


# -- what every written format says about the event -----------------------------------------


def facts(archive: EventArchive, t: Translate = unchanged) -> list[str]:
    """The event's dates, partners and when the archive was made, as lines."""
    w = words_of(t)
    e = archive.event
    out = []
    if e.starts_at:
        out.append(f"{w('Starts')}: {w.when(e.starts_at)}")
    if e.ends_at:
        out.append(f"{w('Ends')}: {w.when(e.ends_at)}")
    if e.partners:
        out.append(f"{w('In cooperation with')}: {', '.join(e.partners)}")
    out.append(f"{w('Sessions')}: {', '.join(s.session.title for s in archive.sessions) or '-'}")
    out.append(f"{w('Archive made')}: {w.when(archive.made_at)}")
    if not archive.names:
        out.append(w("All names removed"))
    return out


def _room(room: str | None, t: Translate) -> str:
    return room or t("Plenary")


def _kind(kind: str, t: Translate) -> str:
    return t(formats.KIND_LABELS.get(kind, kind))


# -- Markdown -----------------------------------------------------------------------------


def event_markdown(archive: EventArchive, t: Translate = unchanged) -> str:
    w = words_of(t)
    md = formats.md_text
    out = [f"# {md(archive.event.title)}", ""]
    if archive.event.description:
        out += [md(archive.event.description), ""]
    out += [f"- {line}" for line in facts(archive, w)]
    edited = archive.edited
    if edited is not None and edited.summary.strip():
        # The editor's own Markdown, as written: headings kept below the event's title.
        out += ["", f"## {w('Summary')}", "", _demoted(edited.summary.strip()), ""]
    for section in edited.sections if edited else ():
        out += ["", f"## {md(section.title)}", ""]
        out += [
            f"- {md(n.shown)}" + (f" — {md(n.author)}" if n.author else "") for n in section.notes
        ]
    for session in archive.sessions:
        out += ["", _demoted(formats.markdown(session, w).rstrip())]
    out += ["", f"## {w('Across sessions')}", ""]
    for leaders in archive.top_notes:
        out += [f"### {w('Most upvoted')}: {md(leaders.column)}", ""]
        out += [
            f"1. {md(n.note.text)} — {n.note.upvotes} "
            f"({md(n.session_title)}, {md(_room(n.room, w))}, {md(n.board_title)})"
            for n in leaders.notes
        ]
        out.append("")
    if archive.polls:
        out += [
            f"### {w('Every poll side by side')}",
            "",
            f"| {w('Session')} | {w('Poll')} | {w('Room')} | {w('Kind')} | {w('Voters')} "
            f"| {w('Result')} |",
            "|---|---|---|---|---:|---|",
        ]
        out += [
            f"| {md(p.session_title)} | {md(p.poll.question)} | {md(_room(p.room, w))} | "
            f"{_kind(p.poll.kind, w)} | {p.poll.voters} | {md(formats.poll_headline(p.poll, w))} |"
            for p in archive.polls
        ]
    return "\n".join(out).rstrip() + "\n"


def _demoted(markdown: str) -> str:
    """Every ATX heading one level down (a user's text never starts a line with `#`: the
    session writer escapes it)."""
    return "\n".join("#" + line if line.startswith("#") else line for line in markdown.split("\n"))


# -- CSV ----------------------------------------------------------------------------------


def _read_csv(data: bytes) -> tuple[str, list[str], list[dict[str, str]]]:
    """A session's CSV read back as written: its delimiter, header and rows."""
    text = data.decode("utf-8-sig")
    first = text.split("\r\n", 1)[0]
    delimiter = ";" if ";" in first else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = list(reader)
    return delimiter, list(reader.fieldnames or []), rows


def event_csv_bytes(
    archive: EventArchive, kind: formats.CsvKind, t: Translate = unchanged
) -> bytes:
    """One kind across the sessions: each session's CSV (its language's delimiter and
    decimal sign, its formula-safe cells) with the session's title in front."""
    session_col = words_of(t)("session")
    header: list[str] = [session_col]
    delimiter = ","
    rows: list[dict[str, str]] = []
    for session in archive.sessions:
        delimiter, names, found = _read_csv(formats.csv_bytes(session, kind, t))
        header += [n for n in names if n not in header]
        title = formats.inert(session.session.title)
        rows += [{**row, session_col: title} for row in found]
    buf = io.StringIO()
    writer = csv.DictWriter(
        buf, header, restval="", delimiter=delimiter, lineterminator="\r\n", extrasaction="ignore"
    )
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8-sig")


# -- XLSX ---------------------------------------------------------------------------------


def event_xlsx_bytes(archive: EventArchive, t: Translate = unchanged) -> bytes:
    """A workbook: the event and its sessions, then one sheet per kind (notes, polls,
    questions, splits, minutes) holding every session's rows as the session's own workbook
    writes them."""
    from openpyxl import Workbook, load_workbook
    from openpyxl.styles import Font

    w = words_of(t)
    book = Workbook()
    about = book.worksheets[0]
    about.title = w("Event")
    about.append([w("Title"), archive.event.title])
    for line in facts(archive, w):
        label, _, value = line.partition(": ")
        about.append([label, value])
    about.append([])
    about.append([w("Session"), w("Participants"), w("Notes"), w("Polls"), w("Questions")])
    for cell in about[about.max_row]:
        cell.font = Font(bold=True)
    for s in archive.sessions:
        about.append(
            [
                s.session.title,
                s.participation.participants,
                len(s.notes),
                len(s.polls),
                len(s.questions),
            ]
        )
    for row in about.iter_rows():
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"
                cell.quotePrefix = cell.value.startswith(formats.FORMULA_STARTS)
    about.column_dimensions["A"].width = 28
    about.column_dimensions["B"].width = 60

    sources = [load_workbook(io.BytesIO(office.xlsx_bytes(s, w))) for s in archive.sessions]
    for i, kind in enumerate(formats.CSV_KINDS, start=1):
        sheets = [
            (s, _sheet_of(b, w(formats.SHEET_NAMES[kind]), i))
            for s, b in zip(archive.sessions, sources, strict=True)
        ]
        title = sheets[0][1].title if sheets else w(formats.SHEET_NAMES[kind])
        _merged_sheet(book.create_sheet(title), sheets, w("session"))
    for sheet in book.worksheets:
        office.fit_to_a4(sheet, sheet.max_column)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def _sheet_of(book: Any, title: str, place: int) -> Any:
    """The session workbook's sheet of one kind: by its name, else by its place."""
    return book[title] if title in book.sheetnames else book.worksheets[place]


def _merged_sheet(target: Any, sheets: Sequence[tuple[Any, Any]], session_col: str) -> None:
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    header: list[str] = [session_col]
    widths: dict[str, float] = {session_col: len(session_col) + 2}
    for archive, sheet in sheets:
        names = [str(c.value) for c in sheet[1] if c.value is not None]
        for at, name in enumerate(names, start=1):
            if name not in header:
                header.append(name)
            width = sheet.column_dimensions[get_column_letter(at)].width or 0
            widths[name] = max(widths.get(name, 0), width, len(name) + 2)
        title_width = min(len(archive.session.title) + 2, 40)
        widths[session_col] = max(widths[session_col], title_width)
    target.append(header)
    for cell in target[1]:
        cell.font = Font(bold=True)
    target.freeze_panes = "A2"
    place = {name: at for at, name in enumerate(header, start=1)}
    wrap = Alignment(wrap_text=True, vertical="top")
    row_at = 2
    for archive, sheet in sheets:
        names = [str(c.value) for c in sheet[1]]
        for row in sheet.iter_rows(min_row=2):
            first = target.cell(row=row_at, column=1, value=archive.session.title)
            first.data_type = "s"
            first.quotePrefix = archive.session.title.startswith(formats.FORMULA_STARTS)
            for cell, name in zip(row, names, strict=False):
                if cell.value is None or name not in place:
                    continue
                copy = target.cell(row=row_at, column=place[name])
                copy.value = cell.value
                copy.data_type = cell.data_type
                copy.number_format = cell.number_format
                copy.quotePrefix = cell.quotePrefix
                if cell.alignment.wrap_text:
                    copy.alignment = wrap
            row_at += 1
    for name, at in place.items():
        target.column_dimensions[get_column_letter(at)].width = widths.get(name, 12)


# -- Word ---------------------------------------------------------------------------------


def event_docx_bytes(archive: EventArchive, t: Translate = unchanged) -> bytes:
    """The report as one Word document: the event's parts, then each session's document as
    its own writer makes it (its headings one level down), then the views across sessions.
    The first session's document lends its page, language and styles, so the event's
    document is set up as every session's is."""
    from docx import Document

    w = words_of(t)
    made = [office.docx_bytes(s, w) for s in archive.sessions]
    parts = [Document(io.BytesIO(data)) for data in made]
    # A fresh copy of the first, not the first itself: its body is appended below.
    doc = Document(io.BytesIO(made[0])) if made else Document()
    body = doc.element.body
    for element in list(body):
        if not element.tag.endswith("}sectPr"):
            body.remove(element)
    doc.add_heading(archive.event.title, level=0)
    if archive.event.description:
        doc.add_paragraph(archive.event.description)
    _bullets(doc, facts(archive, w))
    edited = archive.edited
    if edited is not None and edited.summary.strip():
        doc.add_heading(w("Summary"), level=1)
        for paragraph in edited.summary.strip().split("\n\n"):
            doc.add_paragraph(paragraph.strip())
    for section in edited.sections if edited else ():
        doc.add_heading(section.title, level=1)
        _bullets(doc, [n.shown + (f" — {n.author}" if n.author else "") for n in section.notes])
    for part in parts:
        _append_demoted(doc, part)
    doc.add_heading(w("Across sessions"), level=1)
    for leaders in archive.top_notes:
        doc.add_heading(f"{w('Most upvoted')}: {leaders.column}", level=2)
        for n in leaders.notes:
            doc.add_paragraph(
                f"{n.note.text} — {n.note.upvotes} "
                f"({n.session_title}, {_room(n.room, w)}, {n.board_title})",
                style="List Number",
            )
    if archive.polls:
        doc.add_heading(w("Every poll side by side"), level=2)
        _table(
            doc,
            [w("Session"), w("Poll"), w("Room"), w("Kind"), w("Voters"), w("Result")],
            [
                (
                    p.session_title,
                    p.poll.question,
                    _room(p.room, w),
                    _kind(p.poll.kind, w),
                    w.number(p.poll.voters),
                    formats.poll_headline(p.poll, w),
                )
                for p in archive.polls
            ],
        )
    props = doc.core_properties
    props.title = archive.event.title
    props.author = ", ".join(archive.event.partners)
    props.last_modified_by = props.author
    props.created = props.modified = datetime.fromisoformat(archive.made_at.replace("Z", ""))
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _append_demoted(doc: Any, part: Any) -> None:
    """The part's body, its headings one level down, before the document's last section."""
    from docx.oxml.ns import qn

    body = doc.element.body
    last = body.find(qn("w:sectPr"))
    for element in part.element.body:
        if element.tag == qn("w:sectPr"):
            continue
        copy = deepcopy(element)
        for style in copy.iter(qn("w:pStyle")):
            style.set(qn("w:val"), _demoted_style(style.get(qn("w:val")) or ""))
        if last is None:
            body.append(copy)
        else:
            last.addprevious(copy)


def _demoted_style(style_id: str) -> str:
    if style_id == "Title":
        return "Heading1"
    if style_id.startswith("Heading") and style_id[7:].isdigit():
        return f"Heading{min(int(style_id[7:]) + 1, _DEEPEST)}"
    return style_id


def _bullets(doc: Any, lines: Iterable[str]) -> None:
    for line in lines:
        doc.add_paragraph(line, style="List Bullet")


def _table(doc: Any, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = text
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for row in rows:
        for cell, text in zip(table.add_row().cells, row, strict=True):
            cell.text = text


# -- all together -------------------------------------------------------------------------


def event_zip_bytes(archive: EventArchive, stem: str, html: str, t: Translate = unchanged) -> bytes:
    """Every format in one zip; `html` is the report rendered by the web layer."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{stem}.html", html)
        z.writestr(f"{stem}.md", event_markdown(archive, t))
        z.writestr(f"{stem}.docx", event_docx_bytes(archive, t))
        z.writestr(f"{stem}.xlsx", event_xlsx_bytes(archive, t))
        z.writestr(f"{stem}.json", event_json_bytes(archive))
        for kind in formats.CSV_KINDS:
            z.writestr(f"{stem}-{kind}.csv", event_csv_bytes(archive, kind, t))
    return buf.getvalue()
