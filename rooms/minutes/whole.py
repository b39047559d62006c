"""A document as one update, read from its stored rows, and this process's small cache of
the latest: a document is merged once per version however many sockets connect or sync,
and a write checks each update against the stored state vector without merging at all."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from pycrdt import Decoder, Doc, Encoder, Text, get_state, merge_updates
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms.minutes.tables import EMPTY, Minutes, MinutesUpdate

# The cache holds at most this many bytes of merged documents (a few dozen large ones) and
# this many documents' state vectors.
CACHE_BYTES = 32 * 1024 * 1024
CACHE_DOCUMENTS = 4096


@dataclass(frozen=True)
class Whole:
    """A document at a version: as one update (None until someone needs it) and its state
    vector ({client id: clock})."""

    version: int
    update: bytes | None
    state: dict[int, int]

    def state_vector(self) -> bytes:
        encoder = Encoder()
        encoder.write_var_uint(len(self.state))
        for client, clock in self.state.items():
            encoder.write_var_uint(client)
            encoder.write_var_uint(clock)
        return encoder.to_bytes()


_cache: OrderedDict[str, Whole] = OrderedDict()
_cached_bytes = 0


def clocks(state: bytes) -> dict[int, int]:
    """A state vector as {client id: clock}."""
    decoder = Decoder(state)
    return {
        decoder.read_var_uint(): decoder.read_var_uint() for _ in range(decoder.read_var_uint())
    }


def merged(updates: Sequence[bytes]) -> Doc[Text]:
    """The document the updates make together: integrated rather than merged as raw updates
    (`merge_updates`), so deleted text is collected and a compacted document is as small as
    it can be, its size exact."""
    doc: Doc[Text] = Doc()
    for update in updates:
        doc.apply_update(update)
    return doc


def one_update(updates: Sequence[bytes]) -> bytes:
    """The updates as one (a single row as it is)."""
    if not updates:
        return EMPTY
    return updates[0] if len(updates) == 1 else merged(updates).get_update()


async def stored_updates(db: AsyncSession, document_id: str) -> list[bytes]:
    found = await db.scalars(
        select(col(MinutesUpdate.data))
        .where(col(MinutesUpdate.minutes_id) == document_id)
        .order_by(col(MinutesUpdate.id))
    )
    return [bytes(data) for data in found]


def _remember(document_id: str, whole: Whole) -> None:
    global _cached_bytes
    old = _cache.pop(document_id, None)
    if old is not None and old.update is not None:
        _cached_bytes -= len(old.update)
    _cache[document_id] = whole
    if whole.update is not None:
        _cached_bytes += len(whole.update)
    while _cache and (_cached_bytes > CACHE_BYTES or len(_cache) > CACHE_DOCUMENTS):
        _, dropped = _cache.popitem(last=False)
        if dropped.update is not None:
            _cached_bytes -= len(dropped.update)


def cached(document_id: str, version: int) -> Whole | None:
    found = _cache.get(document_id)
    if found is None or found.version != version:
        return None
    _cache.move_to_end(document_id)
    return found


def written(document_id: str, version: int, state: dict[int, int], update: bytes | None) -> None:
    """A write of this process committed `version`, whose state vector is `state` (and,
    when it compacted the document, its one update; else the next reader merges it)."""
    _remember(document_id, Whole(version, update, dict(state)))


async def version_of(db: AsyncSession, document_id: str) -> int | None:
    found = await db.scalar(select(col(Minutes.version)).where(col(Minutes.id) == document_id))
    return None if found is None else int(found)


async def whole(db: AsyncSession, document_id: str, version: int | None = None) -> Whole:
    """The document as stored, as one update with its state vector (`version` when the
    caller has read it, under a lock)."""
    if version is None:
        version = await version_of(db, document_id)
        if version is None:
            return Whole(0, EMPTY, {})
    found = cached(document_id, version)
    if found is not None and found.update is not None:
        return found
    update = one_update(await stored_updates(db, document_id))
    # The rows may be newer than the version read before them (never older): what the
    # cache keeps under a version is then a little ahead, never behind.
    made = Whole(version, update, clocks(get_state(update)))
    _remember(document_id, made)
    return made


async def state_of_rows(db: AsyncSession, document_id: str, version: int) -> dict[int, int]:
    """The stored state vector of the document at `version` (read under its lock): from
    the cache, else from its rows merged as raw updates (cheaper than integrating them)."""
    found = cached(document_id, version)
    if found is not None:
        return dict(found.state)
    rows = await stored_updates(db, document_id)
    if not rows:
        return {}
    return clocks(get_state(rows[0] if len(rows) == 1 else merge_updates(*rows)))
