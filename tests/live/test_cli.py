"""The command line: organiser accounts from standard input, the demo, configuration errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from live.demo import event as demo_event

ROOT = Path(__file__).resolve().parents[2]


def samla(
    args: list[str], tmp_path: Path, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}", **env}
    return subprocess.run(
        [sys.executable, "-m", "live.cli", *args],
        input=stdin,
        text=True,
        capture_output=True,
        env=full,
        cwd=ROOT,
        timeout=120,
    )


def test_an_organiser_is_added_with_the_password_from_standard_input(tmp_path: Path) -> None:
    done = samla(["organiser", "add", "Anna@Example.se"], tmp_path, "correct horse battery\n")
    assert done.returncode == 0, done.stderr
    assert "anna@example.se" in done.stdout
    again = samla(["organiser", "add", "anna@example.se"], tmp_path, "another password!\n")
    assert again.returncode == 1 and "already exists" in again.stderr
    short = samla(["organiser", "add", "bo@example.se"], tmp_path, "short\n")
    assert short.returncode == 1 and "password" in short.stderr


def test_an_organiser_is_added_with_an_organisation_within_its_limit(tmp_path: Path) -> None:
    password = "correct horse battery\n"
    too_long = samla(
        ["organiser", "add", "kim@natverket.se", "--organisation", "x" * 121], tmp_path, password
    )
    assert too_long.returncode == 1
    assert "The organisation is 121 characters; at most 120 are allowed." in too_long.stderr
    address = samla(
        ["organiser", "add", "kim@natverket.se", "--organisation", "kim@natverket.se"],
        tmp_path,
        password,
    )
    assert address.returncode == 1 and "not an email address" in address.stderr
    # Nothing was made by the refusals: the same address is added now.
    done = samla(
        ["organiser", "add", "Kim@Natverket.se", "--organisation", "  Forum för Samverkan "],
        tmp_path,
        password,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Organiser kim@natverket.se (Forum för Samverkan) added."


def test_a_bad_configuration_stops_samla_with_a_clear_message(tmp_path: Path) -> None:
    done = samla(["serve"], tmp_path, DATABASE_URL="nonsense://")
    assert done.returncode == 2
    assert "DATABASE_URL" in done.stderr


def test_the_demo_fills_the_store_and_prints_its_links(tmp_path: Path) -> None:
    done = samla(["demo", "--base-url", "http://127.0.0.1:8000"], tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "http://127.0.0.1:8000/organiser" in out
    assert out.count("/moderate?key=m_") == 4
    assert out.count("/stage/") == 4 and out.count("/j/") == 4
    assert "Gruppsamtal" in out


def test_serve_runs_with_no_redis_and_no_postgresql(tmp_path: Path) -> None:
    from tests.conftest import free_port, samla_process, wait_healthy

    port = free_port()
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'alone.db'}"}
    env.pop("REDIS_URL", None)
    proc = samla_process(port, {**env, "REDIS_URL": ""}, ROOT, tmp_path / "serve.log")
    try:
        wait_healthy(port)
        assert (tmp_path / "alone.db").exists() and (tmp_path / "samla.secret").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert "Application shutdown complete" in (tmp_path / "serve.log").read_text()


def test_serve_raises_the_open_file_limit_to_what_the_system_allows() -> None:
    code = (
        "import resource\n"
        "from live.cli import raise_file_limit\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))\n"
        "assert raise_file_limit() == hard\n"
        "assert resource.getrlimit(resource.RLIMIT_NOFILE) == (hard, hard)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _demo_store(tmp_path: Path, password: str) -> dict[str, object]:
    """What the demo left in the store: its sessions' titles, whether the password signs
    the demo organiser in, and who its published report says it is run with."""
    code = (
        "import asyncio, json, sys\n"
        "from sqlalchemy import select\n"
        "from live.store import Store\n"
        "from live.demo import DEMO_EMAIL\n"
        "from rooms import accounts\n"
        "from rooms.errors import Refused\n"
        "from rooms.events import report\n"
        "from rooms.models import Conference, Session\n"
        "async def main():\n"
        "    store = Store(sys.argv[1])\n"
        "    async with store.read() as db:\n"
        "        titles = [s.title for s in await db.scalars(select(Session))]\n"
        "        events = list(await db.scalars(select(Conference)))\n"
        "        partners = [list((await report.published_report(db, e.id)).partners)\n"
        "                    for e in events]\n"
        "        try:\n"
        "            await accounts.check_password(db, DEMO_EMAIL, sys.argv[2])\n"
        "            signs_in = True\n"
        "        except Refused:\n"
        "            signs_in = False\n"
        "    await store.close()\n"
        "    print(json.dumps({'titles': titles, 'signs_in': signs_in, 'partners': partners}))\n"
        "asyncio.run(main())\n"
    )
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    done = subprocess.run(
        [sys.executable, "-c", code, url, password], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, object] = json.loads(done.stdout)
    return found


def _printed_password(out: str) -> str:
    line = next(line for line in out.splitlines() if "with password" in line)
    return line.rsplit(" ", 1)[1]


def test_the_demo_run_twice_leaves_one_demo_event_and_its_password_still_works(
    tmp_path: Path,
) -> None:
    first = samla(["demo", "--base-url", "http://127.0.0.1:8000"], tmp_path)
    assert first.returncode == 0, first.stderr
    second = samla(["demo", "--base-url", "http://127.0.0.1:8000"], tmp_path)
    assert second.returncode == 0, second.stderr
    password = _printed_password(first.stdout)
    assert _printed_password(second.stdout) == password
    assert "replaced" in second.stdout and "replaced" not in first.stdout
    assert second.stdout.count("/stage/") == 4  # the hall's links, one a session
    stored = _demo_store(tmp_path, password)
    titles = stored["titles"]
    assert isinstance(titles, list) and len(titles) == 4 and len(set(titles)) == 4
    assert stored["signs_in"] is True
    # One demo event, whose report says "I samarbete med" its two organisations.
    assert stored["partners"] == [[demo_event.ORGANISATION, demo_event.PARTNER_ORGANISATION]]
    assert _demo_store(tmp_path, password + "x")["signs_in"] is False
