"""Samla's mail: registration confirmations and personal invitations, sent over SMTP_URL.

Each mail is plain text, composed from `templates/mail/<name>.txt` in the registrant's
language: the template's first line is the subject, the rest after a blank line the body.
Without SMTP_URL nothing is sent (`can_mail` is false) and the pages show the links for the
organiser to send instead. A page never waits for a mail server: `send_later` sends in the
background, and a failing server is logged, never raised."""

from __future__ import annotations

import asyncio
import logging
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urlsplit

import aiosmtplib
from babel.dates import format_datetime

from live.settings import Settings
from live.templating import BABEL_LOCALES, Templates, zone_named

log = logging.getLogger("samla.mail")

LANGUAGES = ("sv", "en")  # Swedish first: a locale Samla does not speak gets Swedish
# Seconds each SMTP step (connect, each command) may take: a hung server costs a background
# send this long per step, and never a page.
SMTP_TIMEOUT = 15.0
SMTP_PORT = 25
SMTPS_PORT = 465
# Mail's line limit is 78 characters (RFC 5322); a longer word (a link) keeps its own line.
LINE_WIDTH = 77
# A name or a title from people goes into one line (a subject, a greeting), at most this long.
FIELD_MAX = 200
# A moment as people read it in each language: "tisdag 3 mars 2026 kl. 09.00",
# "Tuesday 3 March 2026, 09:00".
WHEN = {"sv": "EEEE d MMMM y 'kl.' HH.mm", "en": "EEEE d MMMM y, HH:mm"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str


def can_mail(settings: Settings) -> bool:
    """Whether Samla sends mail (SMTP_URL is set), rather than showing the links."""
    return settings.smtp_url is not None


# Sending


async def send(settings: Settings, mails: Sequence[Mail]) -> int:
    """Sends the mails over one connection and answers how many the server accepted; a
    refused recipient does not stop the others, and a failing server is logged, not raised."""
    if settings.smtp_url is None or not mails:
        return 0
    accepted = 0
    try:
        async with _client(settings.smtp_url) as smtp:
            for mail in mails:
                accepted += await _send_one(smtp, settings.mail_from, mail)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        log.warning(
            "mail server %s failed (%s): %d of %d mails sent",
            _where(settings.smtp_url),
            exc,
            accepted,
            len(mails),
        )
    return accepted


def _client(url: str) -> aiosmtplib.SMTP:
    parts = urlsplit(url)
    tls = parts.scheme == "smtps"
    username = unquote(parts.username) if parts.username else None
    return aiosmtplib.SMTP(
        hostname=parts.hostname,
        port=parts.port or (SMTPS_PORT if tls else SMTP_PORT),
        username=username,
        password=unquote(parts.password or "") if username is not None else None,
        use_tls=tls,
        # smtp://: STARTTLS whenever the server offers it (None); smtps:// is TLS already.
        start_tls=False if tls else None,
        timeout=SMTP_TIMEOUT,
    )


def _where(url: str) -> str:
    """The server as a log may name it: host and port, never the password."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or ''}".rstrip(":")


async def _send_one(smtp: aiosmtplib.SMTP, sender: str, mail: Mail) -> int:
    """1 when the server accepted the mail; a refusal of this one mail is logged and 0."""
    # A log names the recipient's domain only: enough to see a pattern, no one's address.
    domain = _domain(mail.to)
    try:
        message = _message(sender, mail)
    except ValueError as exc:
        log.warning("mail to an address at %s not sent: %s", domain, exc)
        return 0
    try:
        await smtp.send_message(message, recipients=[_address(mail.to)])
    except aiosmtplib.SMTPRecipientsRefused as exc:
        reasons = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
        log.warning("mail server refused a recipient at %s: %s", domain, reasons)
        return 0
    except (aiosmtplib.SMTPSenderRefused, aiosmtplib.SMTPDataError) as exc:
        log.warning("mail server refused the mail to %s: %s %s", domain, exc.code, exc.message)
        return 0
    return 1


def _domain(to: str) -> str:
    return one_line(to).rpartition("@")[2][:100] or "?"


def _address(to: str) -> str:
    """The one address a mail goes to (raises ValueError for anything else)."""
    address = parseaddr(to.strip())[1]
    if _CONTROL.search(to.strip()) or address.count("@") != 1 or len(address) > 254:
        raise ValueError("not an email address")
    return address


def _message(sender: str, mail: Mail) -> EmailMessage:
    """The mail as a message whose headers none of its text can add to (raises ValueError
    for an address that is not one)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = _address(mail.to)
    message["Subject"] = one_line(mail.subject)
    message["Date"] = formatdate(localtime=False)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(domain=domain)
    # RFC 3834: sent by a program, so out-of-office replies stay away; people may still answer.
    message["Auto-Submitted"] = "auto-generated"
    # Quoted-printable: seven-bit safe on any server, and å, ä, ö arrive intact.
    message.set_content(mail.text, cte="quoted-printable")
    return message


# Background sends: the answer to a request never waits for a mail server.

_pending: set[asyncio.Task[int]] = set()


def send_later(settings: Settings, mails: Sequence[Mail]) -> asyncio.Task[int] | None:
    """Sends the mails in the background (None when mail is not configured); the task is
    kept until it is done, so it is never collected half-way."""
    if not can_mail(settings):
        return None
    task = asyncio.get_running_loop().create_task(
        _send_in_background(settings, list(mails)), name="samla.mail"
    )
    _pending.add(task)
    task.add_done_callback(_pending.discard)
    return task


async def _send_in_background(settings: Settings, mails: Sequence[Mail]) -> int:
    try:
        return await send(settings, mails)
    except Exception:
        # Nobody awaits this task: a fault here is logged, never left unretrieved.
        log.exception("sending %d mails failed", len(mails))
        return 0


async def drain() -> None:
    """Waits for the mails being sent in the background (tests, and shutdown)."""
    loop = asyncio.get_running_loop()
    while True:
        # A task of an event loop that has closed (a finished test's) can never finish.
        _pending.difference_update([t for t in _pending if t.get_loop().is_closed()])
        here = [t for t in _pending if t.get_loop() is loop]
        if not here:
            return
        await asyncio.gather(*here, return_exceptions=True)


# Composing


def confirmation(
    settings: Settings,
    *,
    to: str,
    name: str,
    locale: str,
    event_title: str,
    starts_at: datetime | None,
    withdraw_url: str,
    invited: bool,
) -> Mail:
    """The mail that confirms a registration: received, what happens next, what is kept,
    for how long and who sees it, and the link to withdraw."""
    lang = language(locale)
    return _compose(
        settings,
        "mail/confirmation.txt",
        to,
        lang,
        person=one_line(name),
        event=one_line(event_title),
        when=when(starts_at, lang, settings.time_zone) if starts_at is not None else "",
        withdraw_url=one_line(withdraw_url),
        invited=invited,
        retention_days=settings.retention_days,
    )


def invitation(
    settings: Settings,
    *,
    to: str,
    name: str,
    locale: str,
    event_title: str,
    programme: Sequence[tuple[str, datetime | None]],
    join_url: str,
) -> Mail:
    """A selected registrant's invitation: their place, the programme, their personal link,
    and how to give the place back."""
    lang = language(locale)
    return _compose(
        settings,
        "mail/invitation.txt",
        to,
        lang,
        person=one_line(name),
        event=one_line(event_title),
        programme=[
            (one_line(title), when(at, lang, settings.time_zone) if at is not None else "")
            for title, at in programme
        ],
        join_url=one_line(join_url),
    )


def language(locale: str | None) -> str:
    """The registrant's language among Samla's; Swedish when it is neither."""
    tag = (locale or "").strip().lower()[:2]
    return tag if tag in LANGUAGES else LANGUAGES[0]


def when(moment: datetime, lang: str, time_zone: str) -> str:
    """A moment (naive: UTC) as people read it, in TIME_ZONE: "tisdag 3 mars 2026 kl. 09.00"."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return format_datetime(
        aware.astimezone(zone_named(time_zone)),
        WHEN[language(lang)],
        locale=BABEL_LOCALES[language(lang)],
    )


def one_line(text: str) -> str:
    """A field from people on one line: no line breaks or control characters, and short."""
    return _CONTROL.sub(" ", text).strip()[:FIELD_MAX]


def wrap(text: str) -> str:
    """Lines under 78 characters; a list item's lines indented under its text, and a word
    longer than a line (a link) whole on its own line."""
    out: list[str] = []
    for line in text.splitlines():
        if len(line) <= LINE_WIDTH:
            # "-- " (with its space) is the signature's separator that mail programs know.
            out.append(line if line == "-- " else line.rstrip())
            continue
        indent = re.match(r"\s*(?:- )?", line)
        hanging = " " * (indent.end() if indent else 0)
        out.extend(
            textwrap.wrap(
                line,
                LINE_WIDTH,
                subsequent_indent=hanging,
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    return "\n".join(out).strip("\n") + "\n"


@lru_cache(maxsize=4)
def _templates(time_zone: str) -> Templates:
    # Reading the catalogs takes a moment: once per process (and time zone).
    return Templates(time_zone=time_zone)


def _compose(settings: Settings, template: str, to: str, lang: str, **context: Any) -> Mail:
    rendered = _templates(settings.time_zone).render(template, lang, **context)
    subject, _, body = rendered.lstrip("\n").partition("\n")
    return Mail(to=to.strip(), subject=one_line(subject), text=wrap(body))
