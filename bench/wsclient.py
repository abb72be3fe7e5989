# ruff: noqa: ASYNC109 - explicit timeouts keep the loader's call sites short
"""A minimal asyncio WebSocket client (RFC 6455), for the loader and the injector.

The loader can be the bottleneck on a 2-core machine, so subscribers do not use
a full client library: this protocol parses unmasked server frames straight from
`data_received` and hands each text frame's bytes to a callback without
decoding it. It answers pings, never offers compression (so no server
compresses), and masks what it sends, as a client must.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from collections.abc import Callable

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _mask(payload: bytes) -> bytes:
    key = os.urandom(4)
    n = len(payload)
    if n == 0:
        return key
    # XOR with the repeated key via int arithmetic: fast enough for small frames
    k = (key * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "little") ^ int.from_bytes(k, "little")).to_bytes(n, "little")
    return key + masked


def encode_frame(opcode: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return header + _mask(payload)


class WSClient(asyncio.Protocol):
    """One client connection. `on_text(bytes)` gets every text frame's payload."""

    def __init__(self, host: str, port: int, path: str, on_text: Callable[[bytes], None]) -> None:
        self.host, self.port, self.path = host, port, path
        self.on_text = on_text
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.handshaken = False
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.close_code: int | None = None
        self._frag: bytearray | None = None
        # setup helpers: wait for a text frame containing a needle
        self._waiter: tuple[bytes, asyncio.Future[bytes]] | None = None
        self.log: list[bytes] | None = []  # text frames seen during setup

    # asyncio.Protocol -------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        key = base64.b64encode(os.urandom(16))
        req = (
            f"GET {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key.decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        transport.write(req.encode())

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.handshaken:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end])
            del buf[: end + 4]
            if not head.startswith(b"HTTP/1.1 101"):
                if not self.opened.done():
                    self.opened.set_exception(ConnectionError(head.split(b"\r\n", 1)[0].decode()))
                assert self.transport is not None
                self.transport.close()
                return
            self.handshaken = True
            if not self.opened.done():
                self.opened.set_result(None)
        pos = 0
        n = len(buf)
        on_text = self.on_text
        while n - pos >= 2:
            b0 = buf[pos]
            b1 = buf[pos + 1]
            length = b1 & 0x7F
            hl = 2
            if length == 126:
                if n - pos < 4:
                    break
                length = (buf[pos + 2] << 8) | buf[pos + 3]
                hl = 4
            elif length == 127:
                if n - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                hl = 10
            if b1 & 0x80:  # servers never mask; be tolerant anyway
                hl += 4
            if n - pos < hl + length:
                break
            payload = bytes(buf[pos + hl : pos + hl + length])
            pos += hl + length
            opcode = b0 & 0x0F
            fin = b0 & 0x80
            if opcode == 0x1 and fin:
                if self.log is not None:
                    self.log.append(payload)
                waiter = self._waiter
                if waiter is not None and waiter[0] in payload:
                    self._waiter = None
                    if not waiter[1].done():
                        waiter[1].set_result(payload)
                on_text(payload)
            elif opcode in (0x1, 0x2) and not fin:
                self._frag = bytearray(payload) if opcode == 0x1 else None
            elif opcode == 0x0:
                if self._frag is not None:
                    self._frag += payload
                    if fin:
                        text = bytes(self._frag)
                        self._frag = None
                        on_text(text)
            elif opcode == 0x9:
                self.send_raw(0xA, payload)
            elif opcode == 0x8:
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                self.send_raw(0x8, payload[:2])
                assert self.transport is not None
                self.transport.close()
        if pos:
            del buf[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during handshake"))
        if not self.closed.done():
            self.closed.set_result(None)
        if self._waiter is not None and not self._waiter[1].done():
            self._waiter[1].set_exception(ConnectionError(f"closed ({self.close_code})"))

    # API ---------------------------------------------------------------------
    def send_raw(self, opcode: int, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(encode_frame(opcode, payload))

    def send_text(self, text: str | bytes) -> None:
        self.send_raw(0x1, text.encode() if isinstance(text, str) else text)

    async def request(self, text: str | bytes, needle: bytes, timeout: float = 30.0) -> bytes:
        """Send a frame and wait for a text frame that contains `needle`."""
        if self.log is not None:
            self.log.clear()
        if text:
            self.send_text(text)
        return await self.wait_for(needle, timeout)

    async def wait_for(self, needle: bytes, timeout: float = 30.0) -> bytes:
        """Wait for a text frame that contains `needle` (one seen since the last
        `request` counts)."""
        if self.log:
            for frame in self.log:
                if needle in frame:
                    return frame
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiter = (needle, fut)
        return await asyncio.wait_for(fut, timeout)

    def setup_done(self) -> None:
        self.log = None

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.send_raw(0x8, struct.pack("!H", 1000))
            self.transport.close()


async def connect(
    host: str, port: int, path: str, on_text: Callable[[bytes], None], timeout: float = 30.0
) -> WSClient:
    loop = asyncio.get_running_loop()
    _, proto = await asyncio.wait_for(
        loop.create_connection(lambda: WSClient(host, port, path, on_text), host, port), timeout
    )
    await asyncio.wait_for(proto.opened, timeout)
    return proto
