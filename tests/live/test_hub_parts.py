"""The hub's parts on their own, without a server: the message format, the release of
versions in order, the registry's presence counts, the overflow policy and `watching`."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import pytest
from starlette.status import WS_1013_TRY_AGAIN_LATER

from live.broker import session_channel
from live.broker.memory import MemoryBroker
from live.hub import Connection, Hub, OverflowPolicy, messages
from live.hub.connections import Registry, Watch
from live.hub.outbox import Outboxes, close
from live.hub.repair import release
from rooms.models import Event


async def _nothing(*_: Any) -> None:
    return None


def connection(session_id: str = "s1", participant_id: str | None = None) -> Connection:
    return Connection(
        session_id=session_id,
        role="participant",
        kind="json",
        locale="en",
        send=_nothing,
        close=_nothing,
        participant_id=participant_id,
    )


def test_a_tick_crosses_the_broker_and_comes_back_as_the_same_events() -> None:
    event = Event("poll.results", {"n": 1}, room_id="r1", roles=frozenset({"moderator"}))
    payload = messages.encode("s1", [4, 5], [(5, event, {"n": 2})], True)
    tick = messages.decode(json.loads(payload))
    assert (tick.session_id, tick.versions, tick.presence) == ("s1", [4, 5], True)
    (got,) = tick.events[5]
    assert (got.type, got.data, got.room_id, got.roles) == (
        "poll.results",
        {"n": 2},
        "r1",
        frozenset({"moderator"}),
    )


def test_versions_are_released_in_order_and_a_gap_is_noted_until_filled() -> None:
    watch = Watch(watermark=3)
    early = release(watch, [5], {5: [Event("b")]})
    assert early == [] and watch.gap_since is not None
    late = release(watch, [4], {4: [Event("a")]})
    assert [(v, e.type) for v, e in late] == [(4, "a"), (5, "b")]
    assert watch.watermark == 5 and watch.gap_since is None and not watch.pending


def test_a_participant_is_present_from_their_first_socket_until_their_last() -> None:
    registry = Registry()
    watch = registry.open("s1")
    first, second = connection(participant_id="p1"), connection(participant_id="p1")
    assert registry.arrive(watch, first) is True
    assert registry.arrive(watch, second) is False
    assert registry.presence() == {"s1": {"p1"}} and registry.count() == 2
    assert registry.leave(first) == (False, False)
    assert registry.leave(second) == (True, True)
    assert registry.get("s1") is None and registry.leave(second) is None


async def test_an_outbox_that_overflows_owes_a_snapshot_and_twice_is_dropped() -> None:
    stats = {"frames": 0}
    outboxes = Outboxes(2, slow_socket_timeout=60, stats=stats)
    assert outboxes.policy is OverflowPolicy.RESNAPSHOT
    conn = connection()
    conn.needs_snapshot = False
    outboxes.push_many([conn], "a")
    outboxes.push_many([conn], "b")
    outboxes.push_many([conn], "c")  # past the bound: the backlog goes, a snapshot is owed
    assert conn.needs_snapshot and conn.outbox == [] and conn.deadline is not None
    conn.needs_snapshot = False
    for frame in "def":
        outboxes.push_many([conn], frame)  # overflows again before it caught up
    assert conn.closing == (WS_1013_TRY_AGAIN_LATER, "too far behind")
    assert conn.deadline is None


async def test_changes_queued_while_a_snapshot_is_read_follow_it_only_if_newer() -> None:
    """A crowd's snapshots are read together, a moment after each socket asks: what is fanned
    out meanwhile waits in the outbox. Of it the socket gets what is newer than its snapshot
    and what has no version (who is here), in order; never a version it already holds."""
    outboxes = Outboxes(64, slow_socket_timeout=60, stats={"frames": 0, "snapshots": 0})
    sent: list[str] = []

    async def send(frame: str) -> None:
        sent.append(frame)
        if len(sent) == 4:
            close(conn, 1000, "done")

    conn = connection()
    conn.send = send
    closed: list[int] = []

    async def closed_with(code: int, _: str) -> None:
        closed.append(code)

    conn.close = closed_with

    async def snapshot(c: Connection) -> str:
        outboxes.push_many([c], "25", 25)  # released before the read, already in it
        outboxes.push_many([c], "here", None)
        await asyncio.sleep(0)
        c.version = 26  # the read: the store is at 26
        outboxes.push_many([c], "26", 26)  # released late, after the read
        outboxes.push_many([c], "27", 27)  # committed after the read
        await asyncio.sleep(0)
        return "snapshot 26"

    writer = asyncio.create_task(outboxes.serve(conn, snapshot))
    conn.wake()
    for _ in range(20):
        await asyncio.sleep(0)
    outboxes.push_many([conn], "28", 28)
    await asyncio.wait_for(writer, 1)
    assert sent == ["snapshot 26", "here", "27", "28"]
    assert closed == [1000]


@pytest.mark.parametrize("fails", [False, True], ids=["ends", "raises"])
async def test_watching_detaches_the_socket_however_its_life_ends(fails: bool) -> None:
    broker = MemoryBroker()
    hub = Hub(None, None, broker, None)  # type: ignore[arg-type]
    hub.connections.open("s1")  # already shown here: attaching reads nothing from the store
    conn = connection()
    with pytest.raises(RuntimeError) if fails else contextlib.nullcontext():
        async with hub.watching(conn) as watched:
            assert watched is conn and hub.count_local() == 1
            if fails:
                raise RuntimeError("the reader failed")
    assert hub.count_local() == 0 and hub.connections.get("s1") is None


async def test_ticks_received_together_go_out_as_one_frame_per_key() -> None:
    """Two instances' ticks for one session, received while the last were being shown, reach
    each socket as one frame per event key (the newest), an unkeyed event still as its own."""
    broker = MemoryBroker()
    hub = Hub(None, None, broker, None)  # type: ignore[arg-type]
    watch = hub.connections.open("s1")
    watch.watermark = 10
    conn = connection()
    conn.needs_snapshot, conn.version = False, 10
    hub.connections.arrive(watch, conn)

    def results(total: int) -> Event:
        return Event("poll.results", {"total": total}, key="poll.results:p1")

    asked = Event("question.asked", {"question_id": "q1"})
    ticks = [  # the first instance's, then the second's, then the first's again
        messages.encode("s1", [11], [(11, results(11), {"total": 11})], False),
        messages.encode("s1", [12, 13], [(12, asked, {}), (13, results(13), {"total": 13})], False),
        messages.encode("s1", [14], [(14, results(14), {"total": 14})], False),
    ]
    for payload in ticks:
        hub._deliver(session_channel("s1"), payload)
    inbox = asyncio.create_task(hub._process_inbox())
    try:
        for _ in range(10):
            await asyncio.sleep(0)
    finally:
        inbox.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await inbox
    sent = [json.loads(frame) for frame, _ in conn.outbox]
    assert [(f["type"], f["version"]) for f in sent] == [
        ("question.asked", 12),
        ("poll.results", 14),
    ]
    assert [version for _, version in conn.outbox] == [12, 14]
    assert sent[1]["total"] == 14 and watch.watermark == 14
    assert hub.stats["received"] == 3
