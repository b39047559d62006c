"""Limits on joining and on looking up join codes: per network address, and per session.

Every other limit in Samla is per participant, but before a join there is no participant
yet, only the address a request came from. A hall shares one address (a venue's NAT), so
the per-address allowances are sized for a full hall arriving at once; what they stop is a
script that mints thousands of participants (ballot stuffing with fresh tokens) or walks
the space of join codes.

The address is the ASGI client's host. `samla serve` runs uvicorn with proxy_headers on, so
behind a proxy that uvicorn trusts (FORWARDED_ALLOW_IPS, by default 127.0.0.1 and ::1) it is
the address the proxy saw; an IPv6 client counts by its /64, the block one household or
one host is given."""

from __future__ import annotations

import ipaddress
import math
import time
import weakref

from cachetools import TTLCache
from starlette.requests import HTTPConnection

from live.services import Samla
from rooms import sessions
from rooms.errors import Refused
from rooms.models import Session

# Joins from one address: a bucket of 1,200 that refills at 600 a minute (with Redis, a
# sliding window of 1,200 per two minutes). A hall of a thousand behind one venue NAT all
# joining within seconds passes (the coffee-break test: 1,030 in ten seconds); a script
# from one address mints at most 600 participants a minute after that.
JOINS_PER_ADDRESS = "1200/2 minutes"
# Joins into one session from every address together: a backstop against a flood from
# many addresses. A forum of 10,000 whose phones all arrive within ten seconds (the QR code
# on the big screen, or every socket back after a restart) gets in; past it, a botnet mints
# at most 20,000 participants a minute.
JOINS_PER_SESSION = "20000/minute"
# Codes not found, per address: a hall's mistypes (a tenth of 500 people, twice each) fit
# in the burst of 100; past it, 10 a minute. Guessing an 8-digit code with 100 sessions
# open takes 10^6 guesses on average: about 70 days from one address.
MISSES_PER_ADDRESS = "100/10 minutes"
# An address past its misses gets no lookups at all, right or wrong, for this long at most
# (seconds): otherwise a refusal for a wrong code, but a page for a right one, would let a
# guesser go on at the speed of the join limit. A minute keeps a hall that mistyped too
# much waiting briefly, and lets a guesser one extra try a minute.
BLOCK_MAX = 60.0
# Addresses remembered as blocked; past this the least recently used are forgotten.
BLOCKED_MAX = 100_000

JOINING_TOO_FAST = "Too many people are joining from your network right now; try again in a minute."
SESSION_FULL_SPEED = "Too many people are joining this session right now; try again in a minute."
GUESSING = "Too many wrong codes were tried from your network; wait a minute and try again."


def client_address(conn: HTTPConnection) -> str:
    """Whom the per-address limits count: the client's address, an IPv6 one by its /64."""
    host = conn.client.host if conn.client is not None else ""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class Gate:
    """One instance's door: the shared limiter counts, and this instance remembers which
    addresses it has seen go past their misses."""

    def __init__(self, samla: Samla) -> None:
        self.samla = samla
        self._blocked: TTLCache[str, float] = TTLCache(BLOCKED_MAX, ttl=BLOCK_MAX)

    async def session_for(self, conn: HTTPConnection, code: object) -> Session:
        """The session a code opens, unless this address has tried too many wrong codes."""
        address = client_address(conn)
        until = self._blocked.get(address)
        now = time.monotonic()
        if until is not None and until > now:
            raise Refused("rate_limited", GUESSING, retry_after=math.ceil(until - now))
        try:
            async with self.samla.store.read() as db:
                return await sessions.session_by_code(db, code)
        except Refused as exc:
            if exc.code == "not_found":
                await self._missed(address)
            raise

    async def admit(self, conn: HTTPConnection, session: Session) -> None:
        """Counts one join from this address into this session; refuses past either limit."""
        limiter = self.samla.limiter
        await limiter.hit("join", JOINS_PER_ADDRESS, client_address(conn), JOINING_TOO_FAST)
        await limiter.hit("join-session", JOINS_PER_SESSION, session.id, SESSION_FULL_SPEED)

    async def _missed(self, address: str) -> None:
        try:
            await self.samla.limiter.hit("code-miss", MISSES_PER_ADDRESS, address, GUESSING)
        except Refused as exc:
            wait = min(float(exc.retry_after or BLOCK_MAX), BLOCK_MAX)
            self._blocked[address] = time.monotonic() + wait
            raise Refused("rate_limited", GUESSING, retry_after=math.ceil(wait)) from None


_gates: weakref.WeakKeyDictionary[Samla, Gate] = weakref.WeakKeyDictionary()


def gate_for(samla: Samla) -> Gate:
    """The running Samla's one gate: the API's joins and the browser's share it."""
    found = _gates.get(samla)
    if found is None:
        found = _gates[samla] = Gate(samla)
    return found
