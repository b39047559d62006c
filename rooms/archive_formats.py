"""The archive written out: Markdown, CSV and JSON, and what every format shows (Word, Excel
and the zip of them all are written in `rooms/archive_office.py`; the splits' tables and rows
in `rooms/archive_splits.py`).

The HTML report needs templates, so it is rendered by the web layer; `archive_office.zip_bytes`
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
                mean, min_label, max_label, words: [{word, count}], answers: [text],
                splits: [{key, label,
                          groups: [{choice, voters, options: [{label, count}], hidden}]}]}],
     "boards": [{id, title, room_id,
                 columns: [{id, title, notes: [{id, text, upvotes, author, from_room_id, dots,
                            card: [{name, value}],
                            splits: [{key, label, groups: [{choice, upvotes, hidden}]}]}]}]}],
     "questions": [{id, text, upvotes, answered, author}],
     "top_notes": [{column, notes: [{note: {…}, board_title, room_id}]}],
     "polls_side_by_side": [{id, question, kind, room_id, room, voters, headline}],
     "minutes": [{room_id, room, text}]}

Boards come plenary first, then room by room; notes within a column most upvoted first.
Minutes likewise (`room` null for the plenary's), each the text as written, with no author
(`rooms/archive_minutes.py` writes them in every format).
A split's hidden group (`hidden` "small": fewer than 3 people; "protects": hidden so that the
totals cannot give a small group away) has `voters`/`upvotes` and every count null; every
format writes the words for why, never a count.

The words people read follow the organiser's language (`Words`: a translation, how that
language writes moments, numbers and shares, its document language and time zone), in
Markdown, Word, the workbook's sheets, headers and facts, and the CSV's headers, yes and
no; what is data stays as it is in every language: JSON keys, kinds and statuses in the
tables, the figures of the workbook (numbers and date cells, not text). The office files are
as a reader of that language opens them: Word on A4 in its language with the file's own
properties; the CSV with semicolons and decimal commas where the comma is the decimal sign.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from rooms.archive import (
    Archive,
    Board,
    CardField,
    Note,
    Poll,
    Section,
    headline,
)
from rooms.archive_minutes import MINUTES_HEADER, md_minutes, minutes_json, minutes_rows
from rooms.archive_splits import (
    FEWER,
    PROTECTS,
    SPLIT_HEADER,
    Row,
    hidden_words,
    split_rows,
    split_table,
)
from rooms.archive_words import Translate, Words, count_of, unchanged, words_of

CsvKind = Literal["notes", "polls", "questions", "splits", "minutes"]
CSV_KINDS: tuple[CsvKind, ...] = ("notes", "polls", "questions", "splits", "minutes")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

KIND_LABELS = {
    "single": "Single choice",
    "multiple": "Multiple choice",
    "scale": "Scale",
    "wordcloud": "Word cloud",
    "open": "Open answers",
    "ranking": "Ranking",
}


# What the writers and the web layer also take from here (the splits' are written apart).
__all__ = [
    "FEWER",
    "PROTECTS",
    "SPLIT_HEADER",
    "Row",
    "Translate",
    "Words",
    "hidden_words",
    "split_rows",
    "split_table",
    "words_of",
]


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


def room_label(archive: Archive, room_id: str | None, t: Translate = unchanged) -> str:
    return archive.room_name(room_id) or t("Plenary")


def section_title(section: Section, t: Translate = unchanged) -> str:
    return section.room.name if section.room else t("Plenary")


def percent(share: float) -> str:
    return f"{round(share * 100)} %"


def scale_text(poll: Poll, t: Translate = unchanged) -> str:
    w = words_of(t)
    ends = " - ".join(x for x in (poll.min_label, poll.max_label) if x)
    mean = "-" if poll.mean is None else w.number(poll.mean, 2)
    return f"{w('Mean')}: {mean}" + (f" ({ends})" if ends else "")


def poll_headline(poll: Poll, t: Translate = unchanged) -> str:
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
    out["minutes"] = minutes_json(archive)
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
# A column's header as people of another language read it (English keeps the keys: data).
HEADER_WORDS = {
    "board": "Board",
    "room": "Room",
    "column": "Column",
    "text": "Text",
    "author": "Author",
    "upvotes": "Upvotes",
    "dots": "Dots",
    "collected_from": "Collected from",
    "poll": "Poll",
    "kind": "Kind",
    "status": "Status",
    "voters": "Voters",
    "item": "Item",
    "label": "Label",
    "count": "Count",
    "score": "Score",
    "mean": "Mean",
    "question": "Question",
    "answered": "Answered",
    "source": "Source",
    "split_by": "Split by",
    "group": "Group",
    "people": "People",
    "answer": "Answer",
}
SHEET_NAMES: dict[CsvKind, str] = {
    "notes": "Notes",
    "polls": "Polls",
    "questions": "Questions",
    "splits": "Splits",
    "minutes": "Minutes",
}


def card_names(archive: Archive) -> list[str]:
    """The card fields any note has, in the order they first appear."""
    return list(dict.fromkeys(f.name for n in archive.notes for f in n.card))


def note_header(archive: Archive) -> tuple[str, ...]:
    return (*NOTE_HEADER[:4], *card_names(archive), *NOTE_HEADER[4:])


def headers_in(header: Sequence[str], t: Translate = unchanged) -> tuple[str, ...]:
    """A table's column headers in the reader's language: English keeps the keys (`board`,
    `upvotes`, the card's `who`), other languages read their own words."""
    w = words_of(t)
    if w.language.startswith("en"):
        return tuple(header)
    return tuple(w(HEADER_WORDS.get(key) or key.capitalize()) for key in header)


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


def question_rows(archive: Archive, t: Translate = unchanged) -> list[Row]:
    return [
        (q.text, q.author or "", q.upvotes, t("yes") if q.answered else t("no"))
        for q in archive.questions
    ]


def table_of(
    archive: Archive, kind: CsvKind, t: Translate = unchanged
) -> tuple[tuple[str, ...], list[Row]]:
    if kind == "notes":
        return headers_in(note_header(archive), t), note_rows(archive)
    if kind == "polls":
        return headers_in(POLL_HEADER, t), poll_rows(archive)
    if kind == "splits":
        return headers_in(SPLIT_HEADER, t), split_rows(archive, t)
    if kind == "minutes":
        return headers_in(MINUTES_HEADER, t), minutes_rows(archive, t)
    return headers_in(QUESTION_HEADER, t), question_rows(archive, t)


# -- CSV ----------------------------------------------------------------------------------


def inert(text: str) -> str:
    """The text as a cell no spreadsheet runs: a leading quote where it could be a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_cell(value: str | int | float | datetime | None, w: Words) -> str | int:
    if value is None:
        return ""
    if isinstance(value, str):
        return inert(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="minutes")
    if isinstance(value, float):
        return w.figure(value)
    return value


def csv_bytes(archive: Archive, kind: CsvKind, t: Translate = unchanged) -> bytes:
    """One kind as CSV, UTF-8 with a byte order mark so spreadsheets read å, ä and ö; what a
    spreadsheet of the reader's language expects: in Swedish semicolons between cells and
    decimal commas, in English commas and decimal points."""
    w = words_of(t)
    header, rows = table_of(archive, kind, w)
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=w.csv_delimiter, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(v, w) for v in row])
    return buf.getvalue().encode("utf-8-sig")


# -- Markdown -----------------------------------------------------------------------------

_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>#|~"})


def md_text(text: str) -> str:
    """User text as Markdown that reads as written: no markup, no HTML, one line."""
    return " ".join(text.translate(_MD_SPECIAL).split())


def markdown(archive: Archive, t: Translate = unchanged) -> str:
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
        f"- {t('Participants')}: {w.number(p.participants)}",
        f"- {t('Notes')}: {w.number(len(archive.notes))}",
        f"- {t('Questions')}: {w.number(len(archive.questions))}",
        f"- {t('Polls')}: {w.number(len(archive.polls))}",
    ]
    for attribute in p.attributes:
        counts = ", ".join(f"{md_text(c.choice)} {w.number(c.count)}" for c in attribute.counts)
        out.append(f"- {md_text(attribute.label)}: {counts}")
    for section in archive.sections():
        out += ["", f"## {md_text(section_title(section, t))}", ""]
        if section.room is not None:
            out += [f"{t('Participants')}: {w.number(section.room.participants)}", ""]
        for board in section.boards:
            out += _md_board(archive, board, t)
        for poll in section.polls:
            out += _md_poll(poll, t)
    out += md_minutes(archive, t)
    out += ["", f"## {t('Across rooms')}", ""]
    for leaders in archive.top_notes:
        out += [f"### {t('Most upvoted')}: {md_text(leaders.column)}", ""]
        out += [
            f"1. {md_text(top.note.text)} — {w.number(top.note.upvotes)} "
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
            f"{t(KIND_LABELS[p.kind])} | {w.number(p.voters)} | {md_text(poll_headline(p, w))} |"
            for p in archive.polls
        ]
    out += md_links(archive.notes, w)
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


def md_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 99
) -> list[str]:
    """A Markdown table of user text (escaped), columns from `numeric_from` on right-aligned."""
    align = ["---:" if i >= numeric_from else "---" for i in range(len(header))]
    out = [
        "| " + " | ".join(md_text(h) for h in header) + " |",
        "|" + "|".join(align) + "|",
    ]
    out += ["| " + " | ".join(md_text(c) for c in row) + " |" for row in rows]
    return [*out, ""]


def md_links(notes: Iterable[Note], t: Translate = unchanged) -> list[str]:
    """The "Links" part of a Markdown report: a list per kind (nothing when no card has one);
    each link as text, never as markup."""
    groups = links_by_kind(notes)
    if not groups:
        return []
    out = ["", f"## {t('Links')}", ""]
    for kind, linked in groups:
        out += [f"### {md_text(t(kind) if kind else t('Other links'))}", ""]
        out += [f"- {md_text(link_line(note, t))}" for note in linked]
        out.append("")
    return out


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
            out += [f"  - {md_text(card_line(f, t))}" for f in note.card]
        out.append("")
    for split in board.splits:
        header, table = split_table(split, t)
        out += [f"{t('Upvotes split by')}: {md_text(split.label)}", ""]
        out += md_table(header, table, numeric_from=1)
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
            f"| {md_text(r.label)} | {w.number(r.count)} | "
            f"{w.number(r.score or 0) if score else w.percent(r.share)} |"
            for r in rows
        ]
        out.append("")
    for split in poll.splits:
        header, table = split_table(split, w)
        out += [f"{t('Split by')}: {md_text(split.label)}", ""]
        out += md_table(header, table, numeric_from=1)
    out += [f"- {md_text(a)}" for a in poll.answers]
    if poll.answers:
        out.append("")
    return out


# -- links (every report format) -----------------------------------------------------------


def card_value(field: CardField, t: Translate = unchanged) -> str:
    """A card field's value as read: a kind from the board's list in the reader's language
    (a default kind is translated), everything else as written."""
    return t(field.value) if field.name == "kind" else field.value


def card_line(field: CardField, t: Translate = unchanged) -> str:
    return f"{t(field.name.capitalize())}: {card_value(field, t)}"


def link_of(note: Note) -> str | None:
    return next((f.value for f in note.card if f.name == "link" and f.value), None)


def kind_of(note: Note) -> str | None:
    return next((f.value for f in note.card if f.name == "kind" and f.value), None)


def links_by_kind(notes: Iterable[Note]) -> list[tuple[str | None, list[Note]]]:
    """The cards that carry a link, grouped by kind in the order the kinds first appear
    (cards without a kind last, kind None)."""
    groups: dict[str | None, list[Note]] = {}
    for note in notes:
        if link_of(note):
            groups.setdefault(kind_of(note), []).append(note)
    return sorted(groups.items(), key=lambda item: item[0] is None)


def link_what(note: Note) -> str:
    """What a linked card is called in the list: its "what", else the note's text."""
    return next((f.value for f in note.card if f.name == "what" and f.value), note.text)


def safe_link(url: str | None) -> bool:
    """Whether a link may be a link in HTML: http(s) only (the cards refuse anything else;
    an archive never trusts that)."""
    return bool(url) and urlsplit(url or "").scheme in ("http", "https")


def link_line(note: Note, t: Translate = unchanged) -> str:
    """A link in the list: what the card says, the link as text, who shared it (if named)."""
    who = f" ({note.author})" if note.author else ""
    return f"{link_what(note)}: {link_of(note)}{who}"
