"""Samla's mail against a real SMTP server in the test process (aiosmtpd): batches, refusals,
a server that is down, login, background sends, and the texts in Swedish and English."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword
from aiosmtpd.smtp import Session as SmtpSession
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from live import mail
from live.mail import Mail, can_mail, confirmation, drain, invitation, send, send_later
from live.settings import Settings
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "live" / "locale" / "sv" / "LC_MESSAGES" / "messages.po"
SENDER = "Samla <samla@samla.test>"
REFUSED = "nobody@samla.test"
USER, PASSWORD = "samla", "p@ss:wörd"  # characters a URL must escape
# Tuesday 3 March 2026, 09:00 in Stockholm
OPENING = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
WITHDRAW_URL = "https://samla.test/events/7/withdraw/" + "w" * 43
JOIN_URL = "https://samla.test/invite/" + "j" * 43
# A self-signed certificate for 127.0.0.1 (until 2126) and its key, for the tests only.
TEST_CERTIFICATE = Path(__file__).with_name("mail_tls.pem")


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps what it receives and refuses one recipient."""

    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    authenticated: list[bool] = field(default_factory=list)
    encrypted: list[bool] = field(default_factory=list)

    async def handle_RCPT(
        self,
        server: Any,
        session: SmtpSession,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address == REFUSED:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: SmtpSession, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.recipients.append(list(envelope.rcpt_tos))
        self.authenticated.append(bool(session.authenticated))
        self.encrypted.append(server.transport.get_extra_info("ssl_object") is not None)
        return "250 Message accepted for delivery"


def _authenticate(
    server: Any, session: SmtpSession, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)  # aiosmtpd answers 535 itself


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def guarded_inbox() -> Iterator[tuple[Inbox, int]]:
    """A server that offers AUTH over plain SMTP (for the test only) and checks the password."""
    handler = Inbox()
    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def _settings(port: int, credentials: str = "", scheme: str = "smtp") -> Settings:
    return Settings(smtp_url=f"{scheme}://{credentials}127.0.0.1:{port}", mail_from=SENDER)


def _mail(to: str, n: int = 0) -> Mail:
    return Mail(to=to, subject=f"Din anmälan {n}", text=f"Hej Åsa Öberg!\nRäksmörgås {n}.\n")


async def test_a_batch_arrives_with_its_sender_recipient_subject_and_text(
    inbox: tuple[Inbox, int],
) -> None:
    server, port = inbox
    mails = [_mail(f"p{n}@samla.test", n) for n in range(3)]
    assert await send(_settings(port), mails) == 3
    assert [m["To"] for m in server.messages] == [f"p{n}@samla.test" for n in range(3)]
    assert server.recipients == [[f"p{n}@samla.test"] for n in range(3)]
    assert {m["From"] for m in server.messages} == {SENDER}
    assert [m["Subject"] for m in server.messages] == [f"Din anmälan {n}" for n in range(3)]
    body = server.messages[1].get_body()
    assert body is not None
    assert body.get_content().splitlines() == ["Hej Åsa Öberg!", "Räksmörgås 1."]
    assert body.get_content_charset() == "utf-8"


async def test_a_refused_recipient_does_not_stop_the_others(
    inbox: tuple[Inbox, int], caplog: pytest.LogCaptureFixture
) -> None:
    server, port = inbox
    mails = [_mail("a@samla.test"), _mail(REFUSED), _mail("b@samla.test")]
    with caplog.at_level(logging.WARNING, logger="samla.mail"):
        assert await send(_settings(port), mails) == 2
    assert server.recipients == [["a@samla.test"], ["b@samla.test"]]
    assert "refused a recipient at samla.test: 550 5.1.1 No such mailbox" in caplog.text
    assert REFUSED not in caplog.text  # a log names no one's address


async def test_a_server_that_is_down_is_logged_and_counted_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = _settings(free_port())  # nothing listens there
    with caplog.at_level(logging.WARNING, logger="samla.mail"):
        assert await send(settings, [_mail("a@samla.test"), _mail("b@samla.test")]) == 0
    assert "0 of 2 mails sent" in caplog.text


async def test_send_later_sends_in_the_background_until_drained(
    inbox: tuple[Inbox, int],
) -> None:
    server, port = inbox
    task = send_later(_settings(port), [_mail("a@samla.test"), _mail("b@samla.test")])
    assert task is not None
    assert task in mail._pending  # held until done, never collected half-way
    await drain()
    assert task.result() == 2
    assert len(server.messages) == 2
    assert not mail._pending


async def test_without_smtp_url_nothing_is_sent() -> None:
    settings = Settings(smtp_url=None)
    assert not can_mail(settings)
    assert send_later(settings, [_mail("a@samla.test")]) is None
    assert await send(settings, [_mail("a@samla.test")]) == 0


async def test_it_logs_in_with_the_urls_user_and_password(
    guarded_inbox: tuple[Inbox, int], caplog: pytest.LogCaptureFixture
) -> None:
    server, port = guarded_inbox
    escaped = "p%40ss%3Aw%C3%B6rd"
    assert await send(_settings(port, f"{USER}:{escaped}@"), [_mail("a@samla.test")]) == 1
    assert server.authenticated == [True]
    with caplog.at_level(logging.WARNING, logger="samla.mail"):
        assert await send(_settings(port, f"{USER}:wrong@"), [_mail("b@samla.test")]) == 0
    assert len(server.messages) == 1
    assert "wrong" not in caplog.text  # the log names the server, never the password


@pytest.mark.parametrize("scheme", ["smtp", "smtps"])
async def test_mail_goes_encrypted_with_starttls_or_tls(
    scheme: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """smtp:// upgrades with STARTTLS when offered (this server refuses mail without it);
    smtps:// speaks TLS from the start. The client checks the server's certificate."""
    monkeypatch.setenv("SSL_CERT_FILE", str(TEST_CERTIFICATE))
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(TEST_CERTIFICATE)
    handler, port = Inbox(), free_port()
    secure: dict[str, Any] = (
        {"tls_context": tls, "require_starttls": True} if scheme == "smtp" else {"ssl_context": tls}
    )
    controller = Controller(handler, hostname="127.0.0.1", port=port, **secure)
    controller.start()
    try:
        assert await send(_settings(port, scheme=scheme), [_mail("a@samla.test")]) == 1
    finally:
        controller.stop()
    assert handler.encrypted == [True]


def _confirmation(locale: str, *, invited: bool = True, **kw: Any) -> Mail:
    values: dict[str, Any] = {
        "to": "asa@samla.test",
        "name": "Åsa Öberg",
        "event_title": "Forum för samverkan",
        "starts_at": OPENING,
        "withdraw_url": WITHDRAW_URL,
        **kw,
    }
    return confirmation(Settings(), locale=locale, invited=invited, **values)


def _invitation(locale: str) -> Mail:
    return invitation(
        Settings(),
        to="asa@samla.test",
        name="Åsa Öberg",
        locale=locale,
        event_title="Forum för samverkan",
        programme=[
            ("Inledning", OPENING),
            ("Samtal i grupp", OPENING.replace(hour=9)),
            ("Uppföljning", None),
        ],
        join_url=JOIN_URL,
    )


def _lines_fit(text: str) -> bool:
    return all(len(line) < 78 or " " not in line.strip() for line in text.splitlines())


def test_the_swedish_confirmation_says_when_what_is_kept_and_how_to_withdraw() -> None:
    sent = _confirmation("sv")
    assert sent.subject == "Din anmälan till Forum för samverkan"
    assert sent.text.startswith("Hej Åsa Öberg!\n")
    assert "tisdag 3 mars 2026 kl. 09.00" in sent.text
    assert "personlig inbjudan" in sent.text
    assert "till 90 dagar efter evenemanget" in " ".join(sent.text.split())
    assert f"\n{WITHDRAW_URL}\n" in sent.text
    assert _lines_fit(sent.text)
    open_event = _confirmation("sv", invited=False)
    assert "personlig inbjudan" not in open_event.text


def test_the_english_confirmation_says_when_what_is_kept_and_how_to_withdraw() -> None:
    sent = _confirmation("en", starts_at=None)
    assert sent.subject == "Your registration for Forum för samverkan"
    assert "starts on" not in sent.text  # no date known, none said
    sent = _confirmation("en")
    text = " ".join(sent.text.split())
    assert "Tuesday 3 March 2026, 09:00" in text
    assert "if you are selected, you get a personal invitation" in text.lower()
    assert "until 90 days after the event" in text
    assert "only the event's organisers see them" in text
    assert f"\n{WITHDRAW_URL}\n" in sent.text
    assert _lines_fit(sent.text)


def test_a_locale_samla_does_not_speak_gets_swedish() -> None:
    assert _confirmation("de").subject == "Din anmälan till Forum för samverkan"


def test_the_invitation_gives_the_programme_and_the_personal_link() -> None:
    sv = _invitation("sv")
    assert sv.subject == "Din inbjudan till Forum för samverkan"
    assert "- tisdag 3 mars 2026 kl. 09.00: Inledning\n" in sv.text
    assert "- tisdag 3 mars 2026 kl. 10.00: Samtal i grupp\n" in sv.text
    assert "- Uppföljning\n" in sv.text
    assert f"\n{JOIN_URL}\n" in sv.text
    assert "skicka den inte vidare" in sv.text
    assert "Svara på det här mejlet" in sv.text
    en = _invitation("en")
    assert en.subject == "Your invitation to Forum för samverkan"
    assert "- Tuesday 3 March 2026, 09:00: Inledning\n" in en.text
    assert "do not pass it on" in en.text
    assert f"\n{JOIN_URL}\n" in en.text
    assert _lines_fit(sv.text) and _lines_fit(en.text)


async def test_a_name_or_title_cannot_add_a_header(inbox: tuple[Inbox, int]) -> None:
    server, port = inbox
    hostile = "Eve\r\nBcc: x@y.test"
    composed = _confirmation("en", name=hostile, event_title=f"Forum{hostile}")
    assert "\n" not in composed.subject and "\r" not in composed.subject
    forged = Mail(to="a@samla.test", subject=f"Hi{hostile}", text=f"{hostile}\r\n")
    bad_to = Mail(to=f"a@samla.test{hostile.replace('Eve', '')}", subject="x", text="x")
    assert await send(_settings(port), [composed, forged, bad_to]) == 2
    assert server.recipients == [["asa@samla.test"], ["a@samla.test"]]
    for message in server.messages:
        assert message["Bcc"] is None
        assert [k for k in message if k.lower() == "bcc"] == []
    assert server.messages[0]["Subject"] == "Your registration for ForumEve Bcc: x@y.test"


def test_every_mail_string_has_a_swedish_translation() -> None:
    with PO.open("rb") as f:
        catalog = read_po(f, locale="sv")
    translated = {
        (m.id if isinstance(m.id, str) else m.id[0]) for m in catalog if m.id and m.string
    }
    method_map = [("templates/mail/**.txt", "jinja2")]
    options = {"templates/mail/**.txt": {"extensions": "jinja2.ext.i18n"}}
    used = {
        (msg if isinstance(msg, str) else msg[0])
        for _, _, msg, _, _ in extract_from_dir(str(ROOT), method_map, options)
    }
    assert len(used) > 10  # the extraction really read the templates
    assert sorted(used - translated) == []
