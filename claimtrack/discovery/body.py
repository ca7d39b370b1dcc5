"""Reading one HTTP body with its size bounded on the bytes it *decodes* to, as it streams.

A compressed answer can grow a thousandfold when decoded (1 GiB of zeros is about 1 MB gzipped, and a few KB
gzipped twice), so a limit checked on what arrives, or on what a library decoded a whole network chunk into,
bounds nothing. Here the raw bytes are read in small pieces and inflated by zlib at most `STEP` bytes at a
time, so the memory one body can take is its limit plus one step, whatever the server sends.

One content coding at most, and only those asked for (gzip, deflate): a server that stacks codings
("gzip, gzip") or uses another one gets its answer refused. Decoding is done here and not by httpx, because
httpx decodes each network chunk whole and honours any stack of codings.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterable, Iterator

ACCEPT_ENCODING = "gzip, deflate"  # what we ask for, so that a well-behaved server sends nothing else
STEP = 64 * 1024  # decoded bytes made per step (httpx reads at most 64 KiB of raw bytes at a time)


class Refused(Exception):
    """The answer's Content-Encoding is one this reader does not take (stacked, or unknown)."""


class Undecodable(Exception):
    """The body does not decode as its Content-Encoding says."""


def coding_of(header: str) -> str | None:
    """The one content coding named by a Content-Encoding header (None for none or identity); Refused for more
    than one, or for one that is not gzip or deflate."""
    codings = [c.strip().lower() for c in header.split(",") if c.strip() and c.strip().lower() != "identity"]
    if len(codings) > 1:
        raise Refused(f"refused a body with stacked content codings ({header.strip()})")
    if codings and codings[0] not in ("gzip", "x-gzip", "deflate"):
        raise Refused(f"refused a body in an unsupported content coding ({codings[0]})")
    return codings[0] if codings else None


def read_body(
    raw: Iterable[bytes], coding: str | None, *, max_bytes: int, max_time_s: float | None = None
) -> tuple[bytes, str]:
    """The decoded body, at most max_bytes long, and why it stops early ("" when it came whole).

    Reading stops at max_bytes decoded bytes or after max_time_s seconds, whichever comes first; the rest of
    the answer is never read (nor decoded)."""
    started, body = time.monotonic(), bytearray()
    for piece in _decoded(raw, coding):
        body += piece
        if len(body) > max_bytes:
            del body[max_bytes:]
            return bytes(body), f"cut at the {max_bytes:,}-byte limit"
        if max_time_s is not None and time.monotonic() - started > max_time_s:
            return bytes(body), f"cut at the {max_time_s:g} s limit after {len(body):,} bytes"
    return bytes(body), ""


def _decoded(raw: Iterable[bytes], coding: str | None) -> Iterator[bytes]:
    if coding is None:
        yield from raw
        return
    inflater = _Inflater(coding)
    for chunk in raw:
        yield from inflater.feed(chunk)
    yield from inflater.feed(b"")


class _Inflater:
    """gzip (several members in a row, as the format allows) or deflate (zlib-wrapped, or raw as some servers
    send it), giving at most STEP bytes per piece."""

    def __init__(self, coding: str):
        self.gzip = coding in ("gzip", "x-gzip")
        self.zlib = zlib.decompressobj(zlib.MAX_WBITS | 16 if self.gzip else zlib.MAX_WBITS)
        self.started = False  # a first piece decoded: a raw-deflate retry is no longer possible

    def feed(self, data: bytes) -> Iterator[bytes]:
        while True:
            try:
                out = self.zlib.decompress(data, STEP)
            except zlib.error as exc:
                if self.gzip or self.started:
                    raise Undecodable(str(exc)) from None
                self.zlib, self.started = zlib.decompressobj(-zlib.MAX_WBITS), True  # raw deflate
                continue
            self.started = self.started or bool(out)
            data = self.zlib.unconsumed_tail
            if self.zlib.eof:
                rest = self.zlib.unused_data
                if not (self.gzip and rest.strip(b"\0")):
                    if out:
                        yield out
                    return  # the end of the stream; anything after it is ignored
                self.zlib, data = zlib.decompressobj(zlib.MAX_WBITS | 16), rest  # the next gzip member
            if out:
                yield out
            elif not data:
                return
