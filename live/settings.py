"""Samla's configuration: one frozen object read from the environment once, at start."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./samla.db"
SECRET_FILE_NAME = "samla.secret"  # noqa: S105 (a file name, not a secret)


class ConfigError(Exception):
    """A configuration value is missing, malformed or unsafe; the message names the fix."""


@dataclass(frozen=True)
class Settings:
    # the store; postgresql+asyncpg://… at scale
    database_url: str = DEFAULT_DATABASE_URL
    # redis://… for fan-out, presence and rate limits across instances; None: in-process
    redis_url: str | None = None
    # signs cookies; must be the same on every instance
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    # origins allowed to open WebSockets and post forms; empty: the origin Samla is served on
    allowed_origins: tuple[str, ...] = ()
    # addresses of proxies whose X-Forwarded-Proto and X-Forwarded-For are believed ("*": any)
    forwarded_allow_ips: str = "127.0.0.1,::1"
    # the port of `samla serve` and the Procfile
    port: int = 8000
    # a closed session is deleted this many days after it closed; 0 keeps it
    retention_days: int = 90
    # how often each instance compares its sessions' versions with the store (seconds)
    reconcile_interval: float = 3.0
    # how long events of one session are gathered into one broker message (seconds)
    tick: float = 0.1
    # updates a socket may have waiting before it is dropped to a snapshot
    outbox_limit: int = 64
    # seconds a socket whose outbox overflowed has to take its snapshot before it is aborted
    slow_socket_timeout: float = 10.0
    # seconds a closing socket has to finish its close handshake before it is aborted
    close_timeout: float = 5.0
    # bytes the kernel may hold unsent for one socket (Linux doubles it for its bookkeeping)
    socket_send_buffer: int = 128 * 1024
    # seconds a client has to send its request's headers, from connecting or its first byte
    header_timeout: float = 10.0
    # seconds after which a connection still without its headers counts as slow
    header_grace: float = 1.0
    # slow connections (past their grace, still without headers) one address may hold at once
    handshakes_per_address: int = 100
    # apply migrations on start
    migrate: bool = True
    # the zone in which pages, reports and exports show times (stored times stay UTC)
    time_zone: str = "Europe/Stockholm"
    # Where people report an accessibility problem (an email address or a web address),
    # named in the accessibility statement; without it, the statement says to ask the organiser.
    accessibility_contact: str | None = None
    # smtp://user:pass@host:port (or smtps://) for registration confirmations and
    # invitations; None: Samla shows the links for the organiser to send
    smtp_url: str | None = field(default=None, repr=False)
    # the sender of those mails
    mail_from: str = "Samla <samla@localhost>"
    # Each breakout room's call on a video service (live/calls.py); at most one service.
    # A Jitsi Meet deployment's base URL; None: no Jitsi calls
    jitsi_url: str | None = None
    # Jitsi token authentication: the app id (`iss`) and the HS256 secret; None: no tokens
    jitsi_app_id: str | None = None
    jitsi_app_secret: str | None = field(default=None, repr=False)
    # another service's link per call, "{call}" standing for the call's name
    call_link_template: str | None = None
    # a BigBlueButton server's base URL (…/bigbluebutton/) and its shared secret
    bbb_url: str | None = None
    bbb_secret: str | None = field(default=None, repr=False)
    # the checksum BigBlueButton checks: "sha256", or "sha1" for old servers
    bbb_checksum: str = "sha256"
    # the call shown inside Samla's room page (an iframe) instead of opened in a new tab
    call_embed: bool = False

    @property
    def served_over_https(self) -> bool:
        """Every allowed origin is https: the session cookie is Secure on every request."""
        return bool(self.allowed_origins) and all(
            o.startswith("https://") for o in self.allowed_origins
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        database_url = env.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL
        _check_database_url(database_url)
        redis_url = env.get("REDIS_URL", "").strip() or None
        if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(
                f"REDIS_URL {redis_url!r} is not a Redis URL: use redis://host:6379/0 "
                "or leave it unset for the in-process broker"
            )
        secret_key = env.get("SECRET_KEY", "").strip() or _kept_secret(database_url)
        if len(secret_key) < 16:
            raise ConfigError("SECRET_KEY is too short: use at least 16 random characters")
        origins = tuple(
            o.strip().rstrip("/") for o in env.get("ALLOWED_ORIGINS", "").split(",") if o.strip()
        )
        for origin in origins:
            if not origin.startswith(("http://", "https://")):
                raise ConfigError(
                    f"ALLOWED_ORIGINS entry {origin!r} must be an origin like https://samla.example"
                )
        return cls(
            database_url=database_url,
            redis_url=redis_url,
            secret_key=secret_key,
            allowed_origins=origins,
            forwarded_allow_ips=env.get("FORWARDED_ALLOW_IPS", "").strip() or "127.0.0.1,::1",
            port=_int(env, "PORT", 8000, low=1, high=65535),
            retention_days=_int(env, "RETENTION_DAYS", 90, low=0, high=36500),
            time_zone=_time_zone(env),
            accessibility_contact=env.get("ACCESSIBILITY_CONTACT", "").strip()[:200] or None,
            smtp_url=_smtp_url(env),
            mail_from=env.get("MAIL_FROM", "").strip()[:200] or "Samla <samla@localhost>",
            **_calls(env),
        )


def _calls(env: Mapping[str, str]) -> dict[str, Any]:
    """The video service for rooms' calls: checked here, so a bad one stops Samla at start."""
    found = {k: env.get(k, "").strip() or None for k in _CALL_KEYS}
    services = [k for k in ("JITSI_URL", "CALL_LINK_TEMPLATE", "BBB_URL") if found[k]]
    if len(services) > 1:
        raise ConfigError(f"{', '.join(services)}: set only one video service")
    for key in ("JITSI_URL", "BBB_URL"):
        if found[key]:
            _call_url(key, found[key] or "")
    template = found["CALL_LINK_TEMPLATE"]
    if template:
        if template.count("{call}") != 1 or "{" in template.replace("{call}", ""):
            raise ConfigError(
                "CALL_LINK_TEMPLATE must hold {call} once, where the call's name goes: "
                "https://video.example/{call}"
            )
        # The service's origin is what the pages may frame and grant the camera: fixed.
        marked = urlsplit(template.replace("{call}", "x-samla-call-x"))
        if "x-samla-call-x" in marked.scheme + marked.netloc:
            raise ConfigError(
                "CALL_LINK_TEMPLATE must keep {call} out of the scheme and the host: the "
                "service's address is fixed and the call's name goes in its path, like "
                "https://video.example/{call}"
            )
        _call_url("CALL_LINK_TEMPLATE", template.replace("{call}", "samla"))
    if bool(found["JITSI_APP_ID"]) != bool(found["JITSI_APP_SECRET"]):
        raise ConfigError(
            "JITSI_APP_ID and JITSI_APP_SECRET go together: set both for Jitsi token "
            "authentication, or neither for calls without tokens"
        )
    if found["JITSI_APP_SECRET"] and not found["JITSI_URL"]:
        raise ConfigError("JITSI_APP_SECRET is set without JITSI_URL: name the Jitsi deployment")
    if bool(found["BBB_URL"]) != bool(found["BBB_SECRET"]):
        raise ConfigError("BBB_URL and BBB_SECRET go together: `bbb-conf --secret` shows both")
    checksum = (found["BBB_CHECKSUM"] or "sha256").lower()
    if checksum not in ("sha256", "sha1"):
        raise ConfigError("BBB_CHECKSUM must be sha256 (the default) or sha1")
    embed = (found["CALL_EMBED"] or "false").lower()
    if embed not in ("true", "false", "1", "0", "yes", "no"):
        raise ConfigError("CALL_EMBED must be true or false")
    return {
        "jitsi_url": found["JITSI_URL"],
        "jitsi_app_id": found["JITSI_APP_ID"],
        "jitsi_app_secret": found["JITSI_APP_SECRET"],
        "call_link_template": template,
        "bbb_url": found["BBB_URL"],
        "bbb_secret": found["BBB_SECRET"],
        "bbb_checksum": checksum,
        "call_embed": embed in ("true", "1", "yes"),
    }


_CALL_KEYS = (
    "JITSI_URL",
    "JITSI_APP_ID",
    "JITSI_APP_SECRET",
    "CALL_LINK_TEMPLATE",
    "BBB_URL",
    "BBB_SECRET",
    "BBB_CHECKSUM",
    "CALL_EMBED",
)


def _call_url(key: str, url: str) -> None:
    """A video service's address: https, or http on this machine only (a test's server)."""
    parts = urlsplit(url)
    local = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if len(url) > 500 or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(f"{key} {url[:80]!r} must be a web address like https://meet.example")
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        raise ConfigError(
            f"{key} must be https:// (http:// only for localhost): people's calls and "
            "their tokens must not cross the network in the clear"
        )


def _smtp_url(env: Mapping[str, str]) -> str | None:
    url = env.get("SMTP_URL", "").strip()
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError(
            "SMTP_URL must look like smtp://user:password@host:587 (or smtps://…:465), "
            "or be unset for Samla to show the links instead of mailing them"
        )
    return url


def _int(env: Mapping[str, str], key: str, default: int, *, low: int, high: int) -> int:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{key}={raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise ConfigError(f"{key}={value} is out of range ({low} to {high})")
    return value


def _time_zone(env: Mapping[str, str]) -> str:
    name = env.get("TIME_ZONE", "").strip() or "Europe/Stockholm"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"TIME_ZONE {name!r} is not a time zone: use a name such as Europe/Stockholm or UTC"
        ) from None
    return name


def _check_database_url(url: str) -> None:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            f"DATABASE_URL {url!r} cannot be parsed: use {DEFAULT_DATABASE_URL} "
            "or postgresql+asyncpg://user:password@host/db"
        ) from None
    if parsed.drivername not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
        raise ConfigError(
            f"DATABASE_URL driver {parsed.drivername!r} is not supported: "
            "use sqlite+aiosqlite:// or postgresql+asyncpg://"
        )


def _kept_secret(database_url: str) -> str:
    """The secret generated once and kept beside the SQLite file, so restarts keep logins."""
    parsed = make_url(database_url)
    if parsed.drivername != "sqlite+aiosqlite":
        raise ConfigError(
            "SECRET_KEY must be set when the store is not a local SQLite file: "
            "every instance must sign with the same key"
        )
    if not parsed.database or parsed.database == ":memory:":
        return secrets.token_urlsafe(32)
    path = Path(parsed.database).resolve().parent / SECRET_FILE_NAME
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret)
    return secret
