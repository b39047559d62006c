"""The archive's office files and the zip of every format: Excel and Word, as a reader of
the archive's language opens them (A4, the document's language, its own properties, figures
and dates as such), built on what every format shows (`rooms.archive_formats`)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from rooms.archive import Archive, Note, Poll
from rooms.archive_formats import (
    CSV_KINDS,
    FORMULA_STARTS,
    KIND_LABELS,
    SHEET_NAMES,
    Row,
    card_line,
    csv_bytes,
    json_bytes,
    link_line,
    links_by_kind,
    markdown,
    poll_headline,
    result_rows,
    room_label,
    scale_text,
    section_title,
    split_table,
    table_of,
)
from rooms.archive_minutes import cell_sized, docx_minutes
from rooms.archive_words import Translate, Words, count_of, unchanged, words_of

# -- XLSX ---------------------------------------------------------------------------------

# A column's width in characters: wide enough for a short answer, never wider than a screen;
# longer text wraps in its cell.
XLSX_WIDTH_MIN = 8
XLSX_WIDTH_MAX = 60
XLSX_WHEN = "yyyy-mm-dd hh:mm"
XLSX_PORTRAIT_COLUMNS = 6  # more columns than this print across the page


def xlsx_bytes(archive: Archive, t: Translate = unchanged, *, author: str = "") -> bytes:
    """A workbook: the session, then one sheet per kind (notes, polls, questions, splits,
    minutes); headers and sheet names in the reader's language, moments as date cells in
    its time zone, each column as wide as what it holds, a text with line breaks wrapped.
    `author`: the organisers, for the file's properties."""
    from openpyxl import Workbook

    w = words_of(t)
    book = Workbook()
    about = book.worksheets[0]
    about.title = w("Session")
    s = archive.session
    facts: list[Row] = [
        (w("Title"), s.title),
        (w("Status"), w(s.status)),
        (w("Created"), w.moment(s.created_at)),
        (w("Closed"), w.moment(s.closed_at)),
        (w("Participants"), archive.participation.participants),
        (w("Archive made"), w.moment(archive.made_at)),
    ]
    sheets: list[tuple[Any, tuple[str, ...], list[Row]]] = [(about, (), facts)]
    for kind in CSV_KINDS:
        header, rows = table_of(archive, kind, w)
        if kind == "minutes":
            rows = cell_sized(rows)
        sheets.append((book.create_sheet(w(SHEET_NAMES[kind])), header, rows))
    for sheet, header, rows in sheets:
        _fill_sheet(sheet, header, rows)
    _properties(book.properties, archive, w, author)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def _fill_sheet(sheet: Any, header: Sequence[str], rows: Sequence[Row]) -> None:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    widths: dict[int, int] = {}
    if header:
        sheet.append(list(header))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
        widths = {i: len(text) + 2 for i, text in enumerate(header, start=1)}
    wrap = Alignment(wrap_text=True, vertical="top")
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
                # Excel shows a text's line breaks only in a cell that wraps.
                if len(value) > XLSX_WIDTH_MAX or "\n" in value:
                    cell.alignment = wrap
                size = max((len(line) for line in value.splitlines()), default=0)
            elif isinstance(value, datetime):
                cell.value = value
                cell.number_format = XLSX_WHEN
                size = len(XLSX_WHEN)
            else:
                cell.value = value
                size = len(str(value)) if value is not None else 0
            widths[col] = max(widths.get(col, 0), size + 2)
    for col, width in widths.items():
        letter = get_column_letter(col)
        sheet.column_dimensions[letter].width = min(max(width, XLSX_WIDTH_MIN), XLSX_WIDTH_MAX)
    fit_to_a4(sheet, len(widths))


def fit_to_a4(sheet: Any, columns: int) -> None:
    """Printed (or made a PDF) on A4, as wide as the page and as long as it takes, whatever
    paper the reader's machine defaults to."""
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.orientation = "landscape" if columns > XLSX_PORTRAIT_COLUMNS else "portrait"
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0


def _made(archive: Archive) -> datetime:
    """When the archive was made, in UTC without a zone (as both office formats store it)."""
    return Words().moment(archive.made_at) or datetime.now(UTC).replace(tzinfo=None)


def _properties(props: Any, archive: Archive, w: Words, author: str) -> None:
    """A workbook's own properties: its title, who made it, when and its language."""
    props.title = archive.session.title
    props.creator = props.lastModifiedBy = author or "Samla"
    props.language = w.language
    props.created = props.modified = _made(archive)


# -- Word ---------------------------------------------------------------------------------

# A4 with margins of 25 mm: a text width of 160 mm.
PAGE_MM = (210, 297)
MARGIN_MM = 25
TEXT_MM = PAGE_MM[0] - 2 * MARGIN_MM
# About how wide a character of the body text is (Calibri 11 pt, bold headers), with room
# for a cell's padding: a column is never narrower than its longest word in these.
CHAR_MM = 2.1
CELL_PADDING_CHARS = 2


def docx_bytes(archive: Archive, t: Translate = unchanged, *, author: str = "") -> bytes:
    """The report as a Word document with real headings, bulleted lists and tables: A4, in
    the reader's language (its spelling checker's too), with the file's properties set
    (title, `author`: the organisers, made now)."""
    from docx import Document

    t = w = words_of(t)
    doc = Document()
    _docx_page_and_language(doc, w)
    _docx_properties(doc, archive, w, author)
    s = archive.session
    n = w.number
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
            f"{t('Participants')}: {n(p.participants)}",
            f"{t('Notes')}: {n(len(archive.notes))}",
            f"{t('Questions')}: {n(len(archive.questions))}",
            f"{t('Polls')}: {n(len(archive.polls))}",
        ],
    )
    for attribute in p.attributes:
        doc.add_heading(attribute.label, level=3)
        _table_of(
            doc, [t("Answer"), t("Count")], [(c.choice, n(c.count)) for c in attribute.counts]
        )
    for section in archive.sections():
        doc.add_heading(section_title(section, t), level=1)
        if section.room is not None:
            doc.add_paragraph(f"{t('Participants')}: {n(section.room.participants)}")
        for board in section.boards:
            doc.add_heading(f"{t('Board')}: {board.title}", level=2)
            for column in board.columns:
                doc.add_heading(column.title, level=3)
                if not column.notes:
                    doc.add_paragraph(t("No notes."))
                for note in column.notes:
                    doc.add_paragraph(_note_line(archive, note, t), style="List Bullet")
                    for f in note.card:
                        doc.add_paragraph(card_line(f, w), style="List Bullet 2")
            for split in board.splits:
                doc.add_paragraph(f"{t('Upvotes split by')}: {split.label}")
                _table_of(doc, *split_table(split, w))
        for poll in section.polls:
            _docx_poll(doc, poll, t)
    docx_minutes(doc, archive, w)
    doc.add_heading(t("Across rooms"), level=1)
    for leaders in archive.top_notes:
        doc.add_heading(f"{t('Most upvoted')}: {leaders.column}", level=2)
        for top in leaders.notes:
            doc.add_paragraph(
                f"{top.note.text} — {n(top.note.upvotes)} "
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
                    n(p.voters),
                    poll_headline(p, w),
                )
                for p in archive.polls
            ],
        )
    docx_links(doc, archive.notes, w)
    doc.add_heading(t("Questions"), level=1)
    if not archive.questions:
        doc.add_paragraph(t("No questions."))
    else:
        _table_of(
            doc,
            [t("Question"), t("Asked by"), t("Upvotes"), t("Answered")],
            [
                (q.text, q.author or "", n(q.upvotes), t("yes") if q.answered else t("no"))
                for q in archive.questions
            ],
        )
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _docx_page_and_language(doc: Any, w: Words) -> None:
    """A4 with even margins, and the reader's language as every style's (python-docx's
    template is US Letter in en-US, so Word would mark every Swedish word)."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Mm

    for section in doc.sections:
        section.page_width, section.page_height = Mm(PAGE_MM[0]), Mm(PAGE_MM[1])
        section.left_margin = section.right_margin = Mm(MARGIN_MM)
        section.top_margin = section.bottom_margin = Mm(MARGIN_MM)
    styles = doc.styles.element
    defaults = styles.find(qn("w:docDefaults"))
    run_defaults = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    if run_defaults.find(qn("w:lang")) is None:
        run_defaults.append(OxmlElement("w:lang"))
    for lang in styles.iter(qn("w:lang")):
        lang.set(qn("w:val"), w.language)
    theme_lang = doc.settings.element.find(qn("w:themeFontLang"))
    if theme_lang is not None:
        theme_lang.set(qn("w:val"), w.language)


def _docx_properties(doc: Any, archive: Archive, w: Words, author: str) -> None:
    """The document's own properties instead of the template's (made in 2013 by
    python-docx): its title, the organisers, now, its language."""
    props = doc.core_properties
    props.title = archive.session.title
    props.author = props.last_modified_by = author or "Samla"
    props.language = w.language
    props.created = props.modified = _made(archive)
    props.revision = 1
    props.comments = props.subject = props.keywords = props.category = ""


def _note_line(archive: Archive, note: Note, t: Translate) -> str:
    w = words_of(t)
    extra = [count_of(w, "%(count)s upvotes", note.upvotes)]
    if note.dots:
        extra.append(count_of(w, "%(count)s dots", note.dots))
    if note.author:
        extra.append(note.author)
    if note.from_room_id:
        extra.append(t("from %(room)s") % {"room": room_label(archive, note.from_room_id, t)})
    return f"{note.text} ({', '.join(extra)})"


def _docx_poll(doc: Any, poll: Poll, t: Translate) -> None:
    w = words_of(t)
    doc.add_heading(f"{t('Poll')}: {poll.question}", level=2)
    doc.add_paragraph(
        f"{t(KIND_LABELS[poll.kind])} · {count_of(w, '%(count)s voters', poll.voters)}"
    )
    if poll.kind == "scale":
        doc.add_paragraph(scale_text(poll, t))
    rows = result_rows(poll)
    if rows:
        score = poll.kind == "ranking"
        _table_of(
            doc,
            [t("Answer"), t("Count"), t("Score") if score else t("Share")],
            [
                (
                    r.label,
                    w.number(r.count) if r.count is not None else "",
                    w.number(r.score) if score and r.score is not None else w.percent(r.share),
                )
                for r in rows
            ],
        )
    for split in poll.splits:
        doc.add_paragraph(f"{t('Split by')}: {split.label}")
        header, table = split_table(split, w)
        _table_of(doc, header, table)
    _bullets(doc, list(poll.answers))


def _bullets(doc: Any, lines: Iterable[str]) -> None:
    for line in lines:
        doc.add_paragraph(line, style="List Bullet")


def column_widths_mm(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[float]:
    """Widths (mm) that fill the text width and never break a word: each column gets its
    longest word, and what is left goes to the columns in proportion to the rest of their
    longest cell."""
    columns = list(zip(header, *rows, strict=True))
    need = [
        max((len(word) for text in c for word in text.split()), default=1) + CELL_PADDING_CHARS
        for c in columns
    ]
    want = [max(len(text) for text in c) + CELL_PADDING_CHARS for c in columns]
    line = TEXT_MM / CHAR_MM
    if sum(need) >= line:
        return [TEXT_MM * x / sum(need) for x in need]
    rest = [max(want_ - need_, 0) for want_, need_ in zip(want, need, strict=True)]
    spare = line - sum(need)
    extra = [spare * r / sum(rest) if sum(rest) else spare / len(need) for r in rest]
    return [CHAR_MM * (need_ + x) for need_, x in zip(need, extra, strict=True)]


def _table_of(doc: Any, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    from docx.shared import Mm

    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = text
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for row in rows:
        for cell, text in zip(table.add_row().cells, row, strict=True):
            cell.text = text
    # Fixed widths: Word's and LibreOffice's autofit give a narrow column too little and
    # break its words letter by letter.
    table.autofit = False
    for column, width in zip(table.columns, column_widths_mm(header, rows), strict=True):
        column.width = Mm(width)
        for cell in column.cells:
            cell.width = Mm(width)


def docx_links(doc: Any, notes: Iterable[Note], t: Translate = unchanged) -> None:
    """The "Links" part of a Word report: a list per kind (nothing when no card has one)."""
    groups = links_by_kind(notes)
    if not groups:
        return
    doc.add_heading(t("Links"), level=1)
    for kind, linked in groups:
        doc.add_heading(t(kind) if kind else t("Other links"), level=2)
        _bullets(doc, [link_line(note, t) for note in linked])


# -- all together -------------------------------------------------------------------------


def zip_bytes(
    archive: Archive, stem: str, html: str, t: Translate = unchanged, *, author: str = ""
) -> bytes:
    """Every format in one zip; `html` is the report rendered by the web layer."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{stem}.html", html)
        z.writestr(f"{stem}.md", markdown(archive, t))
        z.writestr(f"{stem}.docx", docx_bytes(archive, t, author=author))
        z.writestr(f"{stem}.xlsx", xlsx_bytes(archive, t, author=author))
        z.writestr(f"{stem}.json", json_bytes(archive))
        for kind in CSV_KINDS:
            z.writestr(f"{stem}-{kind}.csv", csv_bytes(archive, kind, t))
    return buf.getvalue()
