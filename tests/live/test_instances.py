"""Several `samla serve` processes sharing one Redis and one database, and Redis restarting."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import RedisServer, free_port, samla_process, wait_healthy
from tests.live.pages import join_by_form, page_socket

ROOT = Path(__file__).resolve().parents[2]
EMAIL, PASSWORD = "organiser@samla.test", "a long test password"


@pytest.fixture
def instances(tmp_path: Path, own_redis: RedisServer) -> Iterator[list[str]]:
    env = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}",
        "REDIS_URL": own_redis.url,
        "SECRET_KEY": "one-secret-for-every-instance",
    }
    add = subprocess.run(
        [sys.executable, "-m", "live.cli", "organiser", "add", EMAIL],
        input=PASSWORD + "\n",
        text=True,
        capture_output=True,
        cwd=ROOT,
        env={**os.environ, **env},
        timeout=60,
    )
    assert add.returncode == 0, add.stderr
    procs: list[subprocess.Popen[bytes]] = []
    bases = []
    try:
        for _ in range(2):
            port = free_port()
            procs.append(samla_process(port, env, ROOT, tmp_path / f"samla-{port}.log"))
            wait_healthy(port)
            bases.append(f"http://127.0.0.1:{port}")
        yield bases
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


async def _session(base: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=base) as client:
        token = (
            await client.post("/api/v1/auth/token", json={"email": EMAIL, "password": PASSWORD})
        ).json()["token"]
        r = await client.post(
            "/api/v1/sessions",
            json={"title": "Två instanser"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 201
        created: dict[str, str] = r.json()
        return created


async def test_a_join_through_one_instance_is_counted_live_on_the_other(
    instances: list[str],
) -> None:
    one, two = instances
    session = await _session(one)
    async with httpx.AsyncClient(base_url=two) as anna, httpx.AsyncClient(base_url=one) as bo:
        await join_by_form(anna, session["code"], "Anna")
        async with page_socket(two, anna, f"/s/{session['id']}/ws") as watching:
            await watching.here(1)
            await join_by_form(bo, session["code"], "Bo")
            async with page_socket(one, bo, f"/s/{session['id']}/ws") as joined:
                await joined.here(2)
                await watching.here(2)  # served by the other instance
            await watching.here(1)


async def test_after_redis_restarts_every_socket_shows_the_right_count_again(
    instances: list[str], own_redis: RedisServer
) -> None:
    one, two = instances
    session = await _session(one)
    async with (
        httpx.AsyncClient(base_url=one) as anna,
        httpx.AsyncClient(base_url=two) as bo,
        httpx.AsyncClient(base_url=two) as cleo,
    ):
        await join_by_form(anna, session["code"], "Anna")
        await join_by_form(bo, session["code"], "Bo")
        async with (
            page_socket(one, anna, f"/s/{session['id']}/ws") as a,
            page_socket(two, bo, f"/s/{session['id']}/ws") as b,
        ):
            await a.here(2)
            await b.here(2)
            own_redis.stop()
            own_redis.start()  # empty: presence and subscriptions are gone
            # Someone arrives while the instances are still reconnecting.
            await join_by_form(cleo, session["code"], "Cleo")
            async with page_socket(two, cleo, f"/s/{session['id']}/ws") as c:
                await c.here(3, timeout=15)
                await a.here(3, timeout=15)
                await b.here(3, timeout=15)
