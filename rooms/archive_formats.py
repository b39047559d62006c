"""The archive written out: Markdown, Word, CSV, JSON, Excel and a zip of them all.

The HTML report needs templates, so it is rendered in `live/archive_html.py`; `zip_archive`
takes its bytes. Every function here is pure: an `Archive` in, bytes or text out.

Spreadsheets run a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return as a
formula; every text cell that could is written as text (CSV: a leading `'`; XLSX: a string
cell with the quote prefix), so a note can never reach out of the sheet.

The JSON shape (`archive_json`, also docs/archive.md)::

    {"format": "samla-archive", "version": 1, "made_at": iso, "names": bool,
     "session": {id, title, code, status, created_at, closed_at},
     "participation": {participants, named,
                       attributes: [{key, label, counts: [{choice, count}], unanswered}]},
     "rooms": [{id, name, participants}],
     "polls": [{id, question, kind, status, voters, room_id, options: [{label, count, score}],
                mean, min_label, max_label, words: [{word, count}], answers: [text]}],
     "boards": [{id, title, room_id,
                 columns: [{id, title, notes: [{id, text, upvotes, author, from_room_id}]}]}],
     "questions": [{id, text, upvotes, answered, author}],
     "top_notes": [{column, notes: [{note: {…}, board_title, room_id}]}],
     "polls_side_by_side": [{id, question, kind, room_id, room, voters, headline}]}

Boards come plenary first, then room by room; notes within a column most upvoted first.

The words people read follow the organiser's language (`Words`: a translation, and how that
language writes moments, numbers and shares), in Markdown, Word, the workbook's sheets and
facts, and the CSV's yes and no; what is data stays as it is in every language: JSON keys,
the CSV and workbook column headers (`board`, `room`, …), kinds and statuses in the tables,
and the figures of the CSV and the workbook (numbers, not text).
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from rooms.archive import Archive, Board, Note, Poll, Section, headline
from rooms.archive_words import Translate, Words, count_of, words_of

CsvKind = Literal["notes", "polls", "questions"]
CSV_KINDS: tuple[CsvKind, ...] = ("notes", "polls", "questions")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

KIND_LABELS = {
    "single": "Single choice",
    "multiple": "Multiple choice",
    "scale": "Scale",
    "wordcloud": "Word cloud",
    "open": "Open answers",
    "ranking": "Ranking",
}


def _same(text: str) -> str:
    return text


__all__ = ["Translate", "Words", "words_of"]


# -- what every format shows --------------------------------------------------------------


@dataclass(frozen=True)
class ResultRow:
    label: str
    count: int | None
    score: int | None
    share: float  # 0..1: the bar's length (of voters; ranking: of the best score)


def result_rows(poll: Poll) -> list[ResultRow]:
    """A poll's results as labelled rows with a share for the chart (open answers: none)."""
    if poll.kind == "wordcloud":
        top = max((w.count for w in poll.words), default=0) or 1
        return [ResultRow(w.word, w.count, None, w.count / top) for w in poll.words]
    if poll.kind == "ranking":
        best = max((o.score or 0 for o in poll.options), default=0) or 1
        ranked = sorted(poll.options, key=lambda o: -(o.score or 0))
        return [ResultRow(o.label, o.count, o.score, (o.score or 0) / best) for o in ranked]
    if poll.kind == "open":
        return []
    voters = poll.voters or 1
    return [ResultRow(o.label, o.count, None, o.count / voters) for o in poll.options]


def room_label(archive: Archive, room_id: str | None, t: Translate = _same) -> str:
    return archive.room_name(room_id) or t("Plenary")


def section_title(section: Section, t: Translate = _same) -> str:
    return section.room.name if section.room else t("Plenary")


def percent(share: float) -> str:
    return f"{round(share * 100)} %"


def scale_text(poll: Poll, t: Translate = _same) -> str:
    w = words_of(t)
    ends = " - ".join(x for x in (poll.min_label, poll.max_label) if x)
    mean = "-" if poll.mean is None else w.number(poll.mean, 2)
    return f"{w('Mean')}: {mean}" + (f" ({ends})" if ends else "")


def poll_headline(poll: Poll, t: Translate = _same) -> str:
    """A poll's result in a few words (`headline`), in the reader's words and numbers."""
    w = words_of(t)
    if poll.kind == "scale":
        return "-" if poll.mean is None else w.number(poll.mean, 1)
    if poll.kind == "open":
        return count_of(w, "%(count)s answers", len(poll.answers))
    return headline(poll)


# -- JSON ---------------------------------------------------------------------------------


def archive_json(archive: Archive) -> dict[str, Any]:
    out: dict[str, Any] = {"format": "samla-archive", "version": 1}
    out.update(asdict(archive))
    out["polls_side_by_side"] = [
        {
            "id": p.id,
            "question": p.question,
            "kind": p.kind,
            "room_id": p.room_id,
            "room": archive.room_name(p.room_id),
            "voters": p.voters,
            "headline": headline(p),
        }
        for p in archive.polls
    ]
    return out


def json_bytes(archive: Archive) -> bytes:
    return json.dumps(archive_json(archive), ensure_ascii=False, indent=2).encode()


# -- rows shared by CSV and XLSX -----------------------------------------------------------

NOTE_HEADER = ("board", "room", "column", "text", "author", "upvotes", "dots", "collected_from")
POLL_HEADER = (
    "poll",
    "room",
    "kind",
    "status",
    "voters",
    "item",
    "label",
    "count",
    "score",
    "mean",
)
QUESTION_HEADER = ("question", "author", "upvotes", "answered")
Row = tuple[str | int | float | None, ...]
SHEET_NAMES: dict[CsvKind, str] = {"notes": "Notes", "polls": "Polls", "questions": "Questions"}


def card_names(archive: Archive) -> list[str]:
    """The card fields any note has, in the order they first appear."""
    return list(dict.fromkeys(f.name for n in archive.notes for f in n.card))


def note_header(archive: Archive) -> tuple[str, ...]:
    return (*NOTE_HEADER[:4], *card_names(archive), *NOTE_HEADER[4:])


def note_rows(archive: Archive) -> list[Row]:
    names = card_names(archive)
    rows: list[Row] = []
    for board in archive.boards:
        for column in board.columns:
            for note in column.notes:
                card = {f.name: f.value for f in note.card}
                rows.append(
                    (
                        board.title,
                        archive.room_name(board.room_id) or "",
                        column.title,
                        note.text,
                        *(card.get(name, "") for name in names),
                        note.author or "",
                        note.upvotes,
                        note.dots,
                        archive.room_name(note.from_room_id) or "",
                    )
                )
    return rows


def poll_rows(archive: Archive) -> list[Row]:
    rows: list[Row] = []
    for poll in archive.polls:
        head: Row = (
            poll.question,
            archive.room_name(poll.room_id) or "",
            poll.kind,
            poll.status,
            poll.voters,
        )
        mean = None if poll.mean is None else round(poll.mean, 4)
        if poll.kind == "wordcloud":
            items: list[Row] = [(*head, "word", w.word, w.count, None, None) for w in poll.words]
        elif poll.kind == "open":
            items = [(*head, "answer", text, None, None, None) for text in poll.answers]
        else:
            item = "value" if poll.kind == "scale" else "option"
            items = [(*head, item, o.label, o.count, o.score, mean) for o in poll.options]
        # A poll nobody answered still has its row, so every poll is in the file.
        rows += items or [(*head, "", "", None, None, mean)]
    return rows


def question_rows(archive: Archive, t: Translate = _same) -> list[Row]:
    return [
        (q.text, q.author or "", q.upvotes, t("yes") if q.answered else t("no"))
        for q in archive.questions
    ]


def _table(
    archive: Archive, kind: CsvKind, t: Translate = _same
) -> tuple[tuple[str, ...], list[Row]]:
    if kind == "notes":
        return note_header(archive), note_rows(archive)
    if kind == "polls":
        return POLL_HEADER, poll_rows(archive)
    return QUESTION_HEADER, question_rows(archive, t)


# -- CSV ----------------------------------------------------------------------------------


def inert(text: str) -> str:
    """The text as a cell no spreadsheet runs: a leading quote where it could be a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_bytes(archive: Archive, kind: CsvKind, t: Translate = _same) -> bytes:
    """One kind as CSV, UTF-8 with a byte order mark so spreadsheets read å, ä and ö."""
    header, rows = _table(archive, kind, t)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else inert(v) if isinstance(v, str) else v for v in row])
    return buf.getvalue().encode("utf-8-sig")


# -- XLSX ---------------------------------------------------------------------------------


def xlsx_bytes(archive: Archive, t: Translate = _same) -> bytes:
    """A workbook: the session, then one sheet per kind (notes, polls, questions)."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    w = words_of(t)
    book = Workbook()
    about = book.worksheets[0]
    about.title = w("Session")
    s = archive.session
    facts: list[Row] = [
        (w("Title"), s.title),
        (w("Status"), w(s.status)),
        (w("Created"), w.when(s.created_at)),
        (w("Closed"), w.when(s.closed_at) if s.closed_at else None),
        (w("Participants"), archive.participation.participants),
        (w("Archive made"), w.when(archive.made_at)),
    ]
    sheets: list[tuple[Any, tuple[str, ...], list[Row]]] = [(about, (), facts)]
    for kind in CSV_KINDS:
        header, rows = _table(archive, kind, w)
        sheets.append((book.create_sheet(w(SHEET_NAMES[kind])), header, rows))
    for sheet, header, rows in sheets:
        if header:
            sheet.append(header)
            for cell in sheet[1]:
                cell.font = Font(bold=True)
            sheet.freeze_panes = "A2"
        for at, row in enumerate(rows, start=2 if header else 1):
            for col, value in enumerate(row, start=1):
                cell = sheet.cell(row=at, column=col)
                if isinstance(value, str):
                    cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)
                    # openpyxl stores a text starting with "=" as a formula; force text,
                    # and the quote prefix keeps it text when someone edits the cell.
                    cell.data_type = "s"
                    if value.startswith(FORMULA_STARTS):
                        cell.quotePrefix = True
                else:
                    cell.value = value
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


# -- Markdown -----------------------------------------------------------------------------

_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>#|~"})


def md_text(text: str) -> str:
    """User text as Markdown that reads as written: no markup, no HTML, one line."""
    return " ".join(text.translate(_MD_SPECIAL).split())


def markdown(archive: Archive, t: Translate = _same) -> str:
    t = w = words_of(t)
    s = archive.session
    out: list[str] = [f"# {md_text(s.title)}", ""]
    out += [f"- {t('Status')}: {t(s.status)}", f"- {t('Created')}: {w.when(s.created_at)}"]
    if s.closed_at:
        out.append(f"- {t('Closed')}: {w.when(s.closed_at)}")
    out += [f"- {t('Archive made')}: {w.when(archive.made_at)}"]
    if not archive.names:
        out.append(f"- {t('All names removed')}")
    out += ["", f"## {t('Participation')}", ""]
    p = archive.participation
    out += [
        f"- {t('Participants')}: {p.participants}",
        f"- {t('Notes')}: {len(archive.notes)}",
        f"- {t('Questions')}: {len(archive.questions)}",
        f"- {t('Polls')}: {len(archive.polls)}",
    ]
    for attribute in p.attributes:
        counts = ", ".join(f"{md_text(c.choice)} {c.count}" for c in attribute.counts)
        out.append(f"- {md_text(attribute.label)}: {counts}")
    for section in archive.sections():
        out += ["", f"## {md_text(section_title(section, t))}", ""]
        if section.room is not None:
            out += [f"{t('Participants')}: {section.room.participants}", ""]
        for board in section.boards:
            out += _md_board(archive, board, t)
        for poll in section.polls:
            out += _md_poll(poll, t)
    out += ["", f"## {t('Across rooms')}", ""]
    for leaders in archive.top_notes:
        out += [f"### {t('Most upvoted')}: {md_text(leaders.column)}", ""]
        out += [
            f"1. {md_text(top.note.text)} — {top.note.upvotes} "
            f"({md_text(room_label(archive, top.room_id, t))}, {md_text(top.board_title)})"
            for top in leaders.notes
        ]
        out.append("")
    if archive.polls:
        out += [
            f"### {t('Every poll side by side')}",
            "",
            f"| {t('Poll')} | {t('Room')} | {t('Kind')} | {t('Voters')} | {t('Result')} |",
            "|---|---|---|---:|---|",
        ]
        out += [
            f"| {md_text(p.question)} | {md_text(room_label(archive, p.room_id, t))} | "
            f"{t(KIND_LABELS[p.kind])} | {p.voters} | {md_text(poll_headline(p, w))} |"
            for p in archive.polls
        ]
    out += ["", f"## {t('Questions')}", ""]
    if not archive.questions:
        out.append(t("No questions."))
    for q in archive.questions:
        done = t("answered") if q.answered else t("not answered")
        who = f" — {md_text(q.author)}" if q.author else ""
        out.append(
            f"- {md_text(q.text)}{who} ({count_of(t, '%(count)s upvotes', q.upvotes)}, {done})"
        )
    return "\n".join(out) + "\n"


def _md_board(archive: Archive, board: Board, t: Translate) -> list[str]:
    out = [f"### {t('Board')}: {md_text(board.title)}", ""]
    for column in board.columns:
        out += [f"#### {md_text(column.title)}", ""]
        if not column.notes:
            out += [f"_{t('No notes.')}_", ""]
            continue
        for note in column.notes:
            extra = [count_of(t, "%(count)s upvotes", note.upvotes)]
            if note.dots:
                extra.append(count_of(t, "%(count)s dots", note.dots))
            if note.author:
                extra.append(md_text(note.author))
            if note.from_room_id:
                room = md_text(room_label(archive, note.from_room_id, t))
                extra.append(t("from %(room)s") % {"room": room})
            out.append(f"- {md_text(note.text)} ({', '.join(extra)})")
            out += [f"  - {t(f.name.capitalize())}: {md_text(f.value)}" for f in note.card]
        out.append("")
    return out


def _md_poll(poll: Poll, t: Translate) -> list[str]:
    w = words_of(t)
    out = [
        f"### {t('Poll')}: {md_text(poll.question)}",
        "",
        f"{t(KIND_LABELS[poll.kind])} · {count_of(t, '%(count)s voters', poll.voters)}",
        "",
    ]
    if poll.kind == "scale":
        out += [md_text(scale_text(poll, t)), ""]
    rows = result_rows(poll)
    if rows:
        score = poll.kind == "ranking"
        out += [
            f"| {t('Answer')} | {t('Count')} | {t('Score') if score else t('Share')} |",
            "|---|---:|---:|",
        ]
        out += [
            f"| {md_text(r.label)} | {r.count} | {r.score if score else w.percent(r.share)} |"
            for r in rows
        ]
        out.append("")
    out += [f"- {md_text(a)}" for a in poll.answers]
    if poll.answers:
        out.append("")
    return out


# -- Word ---------------------------------------------------------------------------------


def docx_bytes(archive: Archive, t: Translate = _same) -> bytes:
    """The report as a Word document with real headings, bulleted lists and tables."""
    from docx import Document

    t = w = words_of(t)
    doc = Document()
    s = archive.session
    doc.add_heading(s.title, level=0)
    facts = [f"{t('Status')}: {t(s.status)}", f"{t('Created')}: {w.when(s.created_at)}"]
    if s.closed_at:
        facts.append(f"{t('Closed')}: {w.when(s.closed_at)}")
    facts.append(f"{t('Archive made')}: {w.when(archive.made_at)}")
    if not archive.names:
        facts.append(t("All names removed"))
    _bullets(doc, facts)
    doc.add_heading(t("Participation"), level=1)
    p = archive.participation
    _bullets(
        doc,
        [
            f"{t('Participants')}: {p.participants}",
            f"{t('Notes')}: {len(archive.notes)}",
            f"{t('Questions')}: {len(archive.questions)}",
            f"{t('Polls')}: {len(archive.polls)}",
        ],
    )
    for attribute in p.attributes:
        doc.add_heading(attribute.label, level=3)
        _table_of(
            doc, [t("Answer"), t("Count")], [(c.choice, str(c.count)) for c in attribute.counts]
        )
    for section in archive.sections():
        doc.add_heading(section_title(section, t), level=1)
        if section.room is not None:
            doc.add_paragraph(f"{t('Participants')}: {section.room.participants}")
        for board in section.boards:
            doc.add_heading(f"{t('Board')}: {board.title}", level=2)
            for column in board.columns:
                doc.add_heading(column.title, level=3)
                if not column.notes:
                    doc.add_paragraph(t("No notes."))
                for note in column.notes:
                    doc.add_paragraph(_note_line(archive, note, t), style="List Bullet")
                    for f in note.card:
                        doc.add_paragraph(
                            f"{t(f.name.capitalize())}: {f.value}", style="List Bullet 2"
                        )
        for poll in section.polls:
            _docx_poll(doc, poll, t)
    doc.add_heading(t("Across rooms"), level=1)
    for leaders in archive.top_notes:
        doc.add_heading(f"{t('Most upvoted')}: {leaders.column}", level=2)
        for top in leaders.notes:
            doc.add_paragraph(
                f"{top.note.text} — {top.note.upvotes} "
                f"({room_label(archive, top.room_id, t)}, {top.board_title})",
                style="List Number",
            )
    if archive.polls:
        doc.add_heading(t("Every poll side by side"), level=2)
        _table_of(
            doc,
            [t("Poll"), t("Room"), t("Kind"), t("Voters"), t("Result")],
            [
                (
                    p.question,
                    room_label(archive, p.room_id, t),
                    t(KIND_LABELS[p.kind]),
                    str(p.voters),
                    poll_headline(p, w),
                )
                for p in archive.polls
            ],
        )
    doc.add_heading(t("Questions"), level=1)
    if not archive.questions:
        doc.add_paragraph(t("No questions."))
    else:
        _table_of(
            doc,
            [t("Question"), t("Asked by"), t("Upvotes"), t("Answered")],
            [
                (q.text, q.author or "", str(q.upvotes), t("yes") if q.answered else t("no"))
                for q in archive.questions
            ],
        )
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _note_line(archive: Archive, note: Note, t: Translate) -> str:
    extra = [count_of(t, "%(count)s upvotes", note.upvotes)]
    if note.dots:
        extra.append(count_of(t, "%(count)s dots", note.dots))
    if note.author:
        extra.append(note.author)
    if note.from_room_id:
        extra.append(t("from %(room)s") % {"room": room_label(archive, note.from_room_id, t)})
    return f"{note.text} ({', '.join(extra)})"


def _docx_poll(doc: Any, poll: Poll, t: Translate) -> None:
    w = words_of(t)
    doc.add_heading(f"{t('Poll')}: {poll.question}", level=2)
    doc.add_paragraph(
        f"{t(KIND_LABELS[poll.kind])} · {count_of(t, '%(count)s voters', poll.voters)}"
    )
    if poll.kind == "scale":
        doc.add_paragraph(scale_text(poll, t))
    rows = result_rows(poll)
    if rows:
        score = poll.kind == "ranking"
        _table_of(
            doc,
            [t("Answer"), t("Count"), t("Score") if score else t("Share")],
            [(r.label, str(r.count), str(r.score) if score else w.percent(r.share)) for r in rows],
        )
    _bullets(doc, list(poll.answers))


def _bullets(doc: Any, lines: Iterable[str]) -> None:
    for line in lines:
        doc.add_paragraph(line, style="List Bullet")


def _table_of(doc: Any, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
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


def zip_bytes(archive: Archive, stem: str, html: str, t: Translate = _same) -> bytes:
    """Every format in one zip; `html` is the report rendered by the web layer."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{stem}.html", html)
        z.writestr(f"{stem}.md", markdown(archive, t))
        z.writestr(f"{stem}.docx", docx_bytes(archive, t))
        z.writestr(f"{stem}.xlsx", xlsx_bytes(archive, t))
        z.writestr(f"{stem}.json", json_bytes(archive))
        for kind in CSV_KINDS:
            z.writestr(f"{stem}-{kind}.csv", csv_bytes(archive, kind, t))
    return buf.getvalue()
