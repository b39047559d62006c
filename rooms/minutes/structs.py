"""What a Yjs update needs of the document it is applied to, read from its encoding (v1, as
y-websocket sends): for each writer (client id) the clocks its structs cover, and the items
of others they are placed against. An update whose structs start past what the document
holds, or that is placed against items it lacks, cannot be integrated: Yrs keeps it aside
(pending) and leaves it out of every encoding of the document, so storing it would lose it
at the next compaction."""

from __future__ import annotations

from dataclasses import dataclass, field

# Struct kinds (the low five bits of a struct's info byte).
_GC, _DELETED, _JSON, _BINARY, _STRING, _EMBED, _FORMAT, _TYPE, _ANY, _DOC, _SKIP = range(11)
_HAS_ORIGIN, _HAS_RIGHT_ORIGIN, _HAS_PARENT_SUB = 0x80, 0x40, 0x20
_XML_ELEMENT, _XML_HOOK = 3, 5


class Unreadable(Exception):
    """Not a v1 update this reader knows."""


@dataclass
class Needs:
    """Each writer's range of clocks in the update (start, end), and the items (writer,
    clock) its structs are placed against."""

    ranges: dict[int, tuple[int, int]] = field(default_factory=dict)
    refs: list[tuple[int, int]] = field(default_factory=list)


class _Reader:
    __slots__ = ("at", "data")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def byte(self) -> int:
        if self.at >= len(self.data):
            raise Unreadable("the update ends too soon")
        value = self.data[self.at]
        self.at += 1
        return value

    def uint(self) -> int:
        value, shift = 0, 0
        while True:
            b = self.byte()
            value |= (b & 0x7F) << shift
            if b < 0x80:
                return value
            shift += 7
            if shift > 63:
                raise Unreadable("a number too large")

    def skip(self, count: int) -> None:
        if count < 0 or self.at + count > len(self.data):
            raise Unreadable("the update ends too soon")
        self.at += count

    def string(self) -> str:
        length = self.uint()
        start = self.at
        self.skip(length)
        try:
            return self.data[start : self.at].decode()
        except UnicodeDecodeError:
            raise Unreadable("a string that is not UTF-8") from None

    def id(self) -> tuple[int, int]:
        return self.uint(), self.uint()

    def any(self, depth: int = 0) -> None:
        """Skips one value of lib0's `any` encoding."""
        if depth > 64:
            raise Unreadable("values nested too deep")
        kind = self.byte()
        if kind in (127, 126, 121, 120):
            return
        if kind == 125:  # a signed varint
            while self.byte() >= 0x80:
                pass
        elif kind == 124:
            self.skip(4)
        elif kind in (123, 122):
            self.skip(8)
        elif kind == 119:
            self.string()
        elif kind == 118:
            for _ in range(self.uint()):
                self.string()
                self.any(depth + 1)
        elif kind == 117:
            for _ in range(self.uint()):
                self.any(depth + 1)
        elif kind == 116:
            self.skip(self.uint())
        else:
            raise Unreadable("an unknown value")


def _content_length(r: _Reader, kind: int) -> int:
    """Reads an item's content; answers how many clocks it takes."""
    if kind == _DELETED:
        return r.uint()
    if kind == _JSON:
        count = r.uint()
        for _ in range(count):
            r.string()
        return count
    if kind == _BINARY:
        r.skip(r.uint())
        return 1
    if kind == _STRING:
        return len(r.string().encode("utf-16-le")) // 2  # Yjs counts UTF-16 units
    if kind == _EMBED:
        r.string()
        return 1
    if kind == _FORMAT:
        r.string()
        r.string()
        return 1
    if kind == _TYPE:
        if r.uint() in (_XML_ELEMENT, _XML_HOOK):
            r.string()
        return 1
    if kind == _ANY:
        count = r.uint()
        for _ in range(count):
            r.any()
        return count
    if kind == _DOC:
        r.string()
        r.any()
        return 1
    raise Unreadable("an unknown kind of struct")


def needs(update: bytes) -> Needs:
    """What the update's structs need; Unreadable if it is not a v1 update."""
    r = _Reader(update)
    found = Needs()
    for _ in range(r.uint()):
        structs = r.uint()
        client, clock = r.id()
        start = clock
        for _ in range(structs):
            info = r.byte()
            kind = info & 0x1F
            if kind in (_GC, _SKIP):
                length = r.uint()
                if kind == _SKIP:  # a hole: what follows needs what the hole leaves out
                    if clock == start:
                        start += length
                    else:
                        found.refs.append((client, clock + length - 1))
                clock += length
                continue
            if info & _HAS_ORIGIN:
                found.refs.append(r.id())
            if info & _HAS_RIGHT_ORIGIN:
                found.refs.append(r.id())
            if not info & (_HAS_ORIGIN | _HAS_RIGHT_ORIGIN):
                if r.uint() == 1:
                    r.string()  # a root type, by name
                else:
                    found.refs.append(r.id())  # a nested type, by its item
                if info & _HAS_PARENT_SUB:
                    r.string()
            clock += _content_length(r, kind)
        if clock > start:
            low, high = found.ranges.get(client, (start, clock))
            found.ranges[client] = (min(low, start), max(high, clock))
    return found


def lacking(update: bytes, state: dict[int, int]) -> bool | None:
    """Whether the update needs structs the document (of this state vector) does not have;
    when it does not, `state` is advanced past it. An update this reader cannot read is
    left to Yrs as before (None: what it adds to the state is unknown)."""
    try:
        found = needs(update)
    except Unreadable:
        return None
    known = dict(state)
    for client, (start, end) in found.ranges.items():
        if start > known.get(client, 0):
            return True
        known[client] = max(known.get(client, 0), end)
    if any(clock >= known.get(client, 0) for client, clock in found.refs):
        return True
    state.update(known)
    return False
