"""Signature checks in a separate process, so they run beside the ingesting thread's Python work.

A verifier thread in the same process needs the GIL back after every signature and waits for
the ingesting thread to hand it over; a process has its own interpreter and never waits. The
ledger starts a verifier process lazily for large batches (see ``Ledger``) and talks to it over
two pipes, from the ingesting thread itself: no helper threads in the parent, so nothing else
competes for the parent's GIL either.

Protocol (both directions little-endian, one request answered at a time, in order):

* request ``kind (1 byte) || length (u32) || payload``;
  * kind ``V``: payload is, per entry, ``author (32) || n (u32) || signature || message`` where
    ``n`` is the length of ``signature || message``; the answer is ``count (u32)`` followed by
    one byte per entry, 1 if the signature verifies and 0 if not.
  * kind ``T``: empty payload; the answer is ``16 (u32) || seconds (f64) || entries (f64)``,
    the CPU time the process spent verifying and the number of signatures it checked.
* end of input: the process exits.

This file runs as a script in the verifier process and must import only the standard library
and pynacl there (nothing from the ``ledger`` package, nothing of the parent's main module).
"""

from __future__ import annotations

import os
import struct
import sys
import time

_HEAD = struct.Struct("<cI")
_U32 = struct.Struct("<I")
_TIMES = struct.Struct("<dd")


def _read_exact(fd: int, n: int) -> bytes | None:
    parts: list[bytes] = []
    while n:
        part = os.read(fd, min(n, 1 << 20))
        if not part:
            return None
        parts.append(part)
        n -= len(part)
    return b"".join(parts)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def serve(inp: int = 0, out: int | None = None) -> None:
    """The verifier process's loop: answer requests from ``inp`` on ``out`` until end of input."""
    import signal

    from nacl.bindings import crypto_sign_open

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is for the parent, which closes us
    if out is None:  # keep the protocol pipe to ourselves: stray prints go to stderr
        out = os.dup(1)
        os.dup2(2, 1)
    cpu = 0.0
    checked = 0
    unpack_u32 = _U32.unpack_from
    while True:
        head = _read_exact(inp, _HEAD.size)
        if head is None:
            return
        kind, length = _HEAD.unpack(head)
        payload = _read_exact(inp, length) if length else b""
        if payload is None:
            return
        if kind == b"V":
            start = time.thread_time()
            oks = bytearray()
            pos, end = 0, len(payload)
            while pos < end:
                author = payload[pos : pos + 32]
                (n,) = unpack_u32(payload, pos + 32)
                pos += 36
                try:
                    crypto_sign_open(payload[pos : pos + n], author)
                    oks.append(1)
                except Exception:  # BadSignatureError, or a malformed key: not verified
                    oks.append(0)
                pos += n
            cpu += time.thread_time() - start
            checked += len(oks)
            _write_all(out, _U32.pack(len(oks)) + bytes(oks))
        elif kind == b"T":
            _write_all(out, _U32.pack(_TIMES.size) + _TIMES.pack(cpu, float(checked)))
        else:
            return  # not our protocol: stop rather than guess


class VerifierDied(Exception):
    """The verifier process is gone or broke the protocol; its unanswered work is not done."""


class VerifierProcess:
    """The parent's end of one verifier process. Not thread-safe: one ingesting thread uses it.

    ``send`` queues a chunk of entries, ``poll`` tells whether an answer is waiting, ``receive``
    returns the oldest chunk's answers. Every failure (the process was killed, a pipe broke, an
    answer is cut short) raises ``VerifierDied``; the caller then checks the unanswered chunks
    itself, so nothing is lost and nothing is accepted unchecked.
    """

    def __init__(self) -> None:
        import select
        import subprocess

        self._poller = select.poll()  # before the process starts: not every platform has it
        # -P: not even the script's own folder on sys.path (this package's modules are not
        # for the verifier process).
        self.proc = subprocess.Popen(
            [sys.executable, "-P", os.path.abspath(__file__)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._w = self.proc.stdin.fileno()
        self._r = self.proc.stdout.fileno()
        self._grow_pipes()
        self._poller.register(self._r, select.POLLIN)
        self._buf = b""
        self.in_flight: list[int] = []  # chunk ids sent and not answered, oldest first
        self.alive = True

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _grow_pipes(self) -> None:
        """Room for several chunks in each pipe, so a send rarely waits (Linux only)."""
        try:
            import fcntl

            for fd in (self._w, self._r):
                fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)
        except (ImportError, AttributeError, OSError):
            pass

    def send(self, chunk_id: int, parts: list[tuple[bytes, bytes, bytes]]) -> None:
        """Queue ``(author, signature, message)`` triples for checking, as chunk ``chunk_id``."""
        pack = _U32.pack
        blob = b"".join(
            [b for author, sig, msg in parts for b in (author, pack(len(sig) + len(msg)), sig, msg)]
        )
        self._write(_HEAD.pack(b"V", len(blob)) + blob)
        self.in_flight.append(chunk_id)

    def _write(self, data: bytes) -> None:
        if not self.alive:
            raise VerifierDied("verifier process already gone")
        try:
            _write_all(self._w, data)
        except OSError as err:
            self.alive = False
            raise VerifierDied(f"verifier process {self.pid} stopped reading: {err}") from err

    def poll(self) -> bool:
        """Whether an answer (or the process's end) can be read without waiting."""
        if not self.alive:
            return True
        if len(self._buf) >= 4 and len(self._buf) >= 4 + _U32.unpack_from(self._buf)[0]:
            return True
        return bool(self._poller.poll(0))

    def _answer(self) -> bytes:
        while True:
            if len(self._buf) >= 4:
                (n,) = _U32.unpack_from(self._buf)
                if len(self._buf) >= 4 + n:
                    answer, self._buf = self._buf[4 : 4 + n], self._buf[4 + n :]
                    return answer
            try:
                more = os.read(self._r, 1 << 16)
            except OSError as err:
                more = b""
                reason = str(err)
            else:
                reason = "exited"
            if not more:
                self.alive = False
                raise VerifierDied(f"verifier process {self.pid} {reason}")
            self._buf += more

    def receive(self) -> tuple[int, bytes]:
        """The oldest unanswered chunk's id and its results (one byte per entry, 1 = valid)."""
        if not self.alive:
            raise VerifierDied("verifier process already gone")
        answer = self._answer()
        return self.in_flight.pop(0), answer

    def cpu_times(self) -> tuple[float, int]:
        """CPU seconds the process spent checking signatures, and how many it checked."""
        if self.in_flight:
            raise RuntimeError("answers are still due")
        self._write(_HEAD.pack(b"T", 0))
        cpu, checked = _TIMES.unpack(self._answer())
        return cpu, int(checked)

    def close(self, timeout: float = 2.0) -> None:
        """End the process: closing its input makes it exit; kill it if it does not."""
        self.alive = False
        proc = self.proc
        for pipe in (proc.stdin, proc.stdout):
            try:
                if pipe is not None:
                    pipe.close()
            except OSError:
                pass
        try:
            proc.wait(timeout)
        except Exception:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    serve()
