"""The `samla` command: serve, add organisers, fill the store with a demo event."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys

from live.guard import http_for
from live.settings import ConfigError, Settings
from live.wire import websockets_for

# Frames larger than this are refused with 1009; no field of Samla comes near it.
WS_MAX_SIZE = 64 * 1024


def uvicorn_options(settings: Settings, host: str, port: int) -> dict[str, object]:
    """How Samla runs under uvicorn; shared by `serve`, the tests and the benchmark."""
    return {
        "host": host,
        "port": port,
        # uvicorn's httptools, with a deadline for headers and a bound per address on
        # connections still sending them (live/guard.py).
        "http": http_for(settings),
        # uvicorn's websockets-sansio (the cheapest ASGI implementation, measured), able to
        # take frames framed once for many sockets, with a bounded close.
        "ws": websockets_for(settings),
        "ws_max_size": WS_MAX_SIZE,
        # Compression costs memory per socket and invites decompression bombs.
        "ws_per_message_deflate": False,
        "ws_ping_interval": 20.0,
        "ws_ping_timeout": 20.0,
        "lifespan": "on",
        "log_level": "info",
        # A line per request and per socket costs more than it tells at a thousand votes a
        # second; errors are logged by Samla itself.
        "access_log": False,
        # Behind a proxy that says X-Forwarded-Proto: https, the request is https (Secure
        # cookie, HSTS, https join links): believed from FORWARDED_ALLOW_IPS only.
        "proxy_headers": True,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        "timeout_graceful_shutdown": 5,
    }


def raise_file_limit() -> int:
    """Lets this process hold as many connections as the system allows it: the soft limit
    on open files (often 1,024) would otherwise refuse a forum's sockets long before memory
    or CPU run out. Returns the limit in force."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass  # some containers refuse it; the soft limit stays
    return soft


def serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from live.app import create_app

    raise_file_limit()
    uvicorn.run(create_app(settings), **uvicorn_options(settings, host, port))  # type: ignore[arg-type]


async def _add_organiser(
    settings: Settings, email: str, password: str, organisation: str | None
) -> str:
    """Adds the account; what to print about it."""
    from live.store import Store, migrate

    await asyncio.to_thread(migrate, settings.database_url)
    store = Store(settings.database_url)
    try:
        from rooms import accounts

        async with store.write() as db:
            added = await accounts.add_organiser(db, email, password, organisation)
            if added.organisation:
                return f"Organiser {added.email} ({added.organisation}) added."
            return f"Organiser {added.email} added."
    finally:
        await store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="samla", description="Live interaction for hybrid conferences."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="run Samla")
    p_serve.add_argument("--host", default="127.0.0.1")
    p_serve.add_argument("--port", type=int, default=None)
    p_org = sub.add_parser("organiser", help="manage organiser accounts")
    org_sub = p_org.add_subparsers(dest="action", required=True)
    p_add = org_sub.add_parser("add", help="create an organiser; the password is read from stdin")
    p_add.add_argument("email")
    p_add.add_argument(
        "--organisation",
        default=None,
        metavar="NAME",
        help="the organisation the account's events name as 'in cooperation with'",
    )
    p_demo = sub.add_parser("demo", help="fill the store with a demo event and print its links")
    p_demo.add_argument("--base-url", default=None, help="where Samla is served, for the links")
    p_demo.add_argument("--serve", action="store_true", help="serve Samla right after")
    p_demo.add_argument("--host", default="127.0.0.1")
    p_demo.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"samla: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        serve(settings, args.host, args.port or settings.port)
        return 0
    if args.command == "organiser":
        if sys.stdin.isatty():
            password = getpass.getpass("Password: ")
        else:
            password = sys.stdin.readline().rstrip("\n")
        from rooms.errors import Refused

        try:
            done = asyncio.run(_add_organiser(settings, args.email, password, args.organisation))
        except Refused as exc:
            print(f"samla: {exc.message}", file=sys.stderr)
            return 1
        print(done)
        return 0
    if args.command == "demo":
        from live.demo import fill

        port = args.port or settings.port
        base = (args.base_url or f"http://{args.host}:{port}").rstrip("/")
        print(asyncio.run(fill(settings, base)))
        if args.serve:
            serve(settings, args.host, port)
        return 0
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
