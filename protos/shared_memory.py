"""Inspect's shared-memory ring (lenet.v1.SharedMemoryRing): a client on the worker's host lends the worker a ring
of slots in /dev/shm, the worker writes each chunk's rows into the next free slot, and only the slot's number
crosses the worker → gateway → client streams. Two Python gRPC hops moving every byte were what held Inspect
near 0.3× the engine's speed (BENCHMARKS.md, "Inspect transport"); a slot costs one copy in and one out.

Layout (little-endian): a header page, then `slots` slots of `slot_bytes` each.
  0  magic b"LENETSHM" · 8 version u32 · 12 slots u32 · 16 slot_bytes u64 · 24 secret length u32 · 28 secret
  STATES_AT  one byte per slot: FREE (the client has read it, or never used) or HELD (the worker wrote it)
Slots are used in order, so the reader frees them in the order the chunks name them. The client creates the
object (mode 0600) and removes it when its call ends; the worker only opens one whose header carries the
request's secret, from a process of its own user. Linux only (/dev/shm)."""
from __future__ import annotations

import hmac
import mmap
import os
import re
import secrets
import struct

from lenet_protos.contract import CHUNK_BYTES
from lenet_protos.lenet.v1 import lenet_pb2 as pb

SHM_DIR = "/dev/shm"
NAME_PATTERN = re.compile(r"lenet-[A-Za-z0-9_-]{1,64}")
SECRET_BYTES = (16, 64)   # the secret's allowed lengths, inclusive
MAGIC, VERSION = b"LENETSHM", 1
HEADER = struct.Struct("<8sIIQI")
STATES_AT, MAX_SLOTS = 96, 64
PAGE = 4096
SLOTS = 8                 # a client's default: the worker writes ahead of the reader by up to 7 chunks
FREE, HELD = 0, 1


def problem(ring: pb.SharedMemoryRing) -> str | None:
    """What is wrong with a request's ring reference, or None."""
    if not NAME_PATTERN.fullmatch(ring.name):
        return 'name must be "lenet-" then 1..64 of A-Z a-z 0-9 _ -'
    if not SECRET_BYTES[0] <= len(ring.secret) <= SECRET_BYTES[1]:
        return f"secret must be {SECRET_BYTES[0]}..{SECRET_BYTES[1]} bytes, got {len(ring.secret)}"
    return None


class Slots:
    """A mapped ring's slots: what the client and the worker share."""

    def __init__(self, memory: mmap.mmap, slots: int, slot_bytes: int):
        self.memory, self.slots, self.slot_bytes = memory, slots, slot_bytes
        self.view = memoryview(memory)

    def data(self, slot: int, nbytes: int) -> memoryview:
        """The first `nbytes` of a slot; ValueError for a slot or size the ring does not have."""
        if not 0 <= slot < self.slots or not 0 <= nbytes <= self.slot_bytes:
            raise ValueError(f"no {nbytes} bytes in slot {slot} of a ring of {self.slots} × {self.slot_bytes}")
        start = PAGE + slot * self.slot_bytes
        return self.view[start:start + nbytes]

    def unmap(self) -> None:
        try:
            self.view.release()
            self.memory.close()
        except BufferError:
            pass   # rows from it are still held somewhere: the mapping goes when they do


class Ring(Slots):
    """A ring its client created and reads: the rows of the chunk naming a slot are that slot's first bytes."""

    def __init__(self, name: str, memory: mmap.mmap, slots: int, slot_bytes: int):
        super().__init__(memory, slots, slot_bytes)
        self.name, self.removed = name, False

    @classmethod
    def create(cls, slots: int = SLOTS, slot_bytes: int = CHUNK_BYTES) -> tuple[Ring, pb.SharedMemoryRing]:
        """A new ring in /dev/shm and the reference to put in an InspectRequest; OSError where there is none or
        it has no room."""
        if not 1 <= slots <= MAX_SLOTS:
            raise ValueError(f"slots must be 1..{MAX_SLOTS}, got {slots}")
        reference = pb.SharedMemoryRing(name=f"lenet-{secrets.token_hex(12)}", secret=secrets.token_bytes(32))
        path, size = os.path.join(SHM_DIR, reference.name), PAGE + slots * slot_bytes
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:   # the header page written, not mapped: a full /dev/shm is ENOSPC here, not SIGBUS later
            os.pwrite(fd, HEADER.pack(MAGIC, VERSION, slots, slot_bytes, len(reference.secret)) + reference.secret +
                      bytes(PAGE - HEADER.size - len(reference.secret)), 0)
            os.ftruncate(fd, size)   # the slots' pages come as the worker writes them; the client reads no others
            memory = mmap.mmap(fd, size)
        except OSError:
            os.unlink(path)
            raise
        finally:
            os.close(fd)
        return cls(reference.name, memory, slots, slot_bytes), reference

    def free(self, slot: int) -> None:
        self.memory[STATES_AT + slot] = FREE

    def remove(self) -> None:
        """Remove the object's name, once the worker has it open (its first chunk came) or the call ended: the
        memory stays until both sides unmap it, and a client killed mid-call leaves nothing in /dev/shm."""
        if self.removed:
            return
        try:
            os.unlink(os.path.join(SHM_DIR, self.name))
        except FileNotFoundError:
            pass
        self.removed = True

    def close(self) -> None:
        """Remove the object, and unmap it unless rows from it are still held (they keep the mapping alive)."""
        self.remove()
        self.unmap()


class RingWriter(Slots):
    """The worker's side of a ring, mapped. Only a ring of the worker's own user is written (another user's
    process could otherwise shrink the object under the mapping and crash the worker with SIGBUS, which the
    worker's own user can do anyway), and each slot's pages are allocated before its first use (ENOSPC then,
    not SIGBUS on a full /dev/shm)."""

    def __init__(self, fd: int, memory: mmap.mmap, slots: int, slot_bytes: int):
        super().__init__(memory, slots, slot_bytes)
        self.fd, self.next = fd, 0

    @classmethod
    def attach(cls, reference: pb.SharedMemoryRing, needed_bytes: int = CHUNK_BYTES) -> RingWriter | None:
        """The request's ring, for writing; None when this host has no such object of this process's user (the
        client is on another host, or runs as another user). ValueError when the object is not a ring for this
        request: wrong header, secret or size."""
        if (why := problem(reference)) is not None:
            raise ValueError(f"shared_memory: {why}")
        try:
            fd = os.open(os.path.join(SHM_DIR, reference.name), os.O_RDWR | os.O_NOFOLLOW)
        except (FileNotFoundError, PermissionError):
            return None
        try:
            status = os.fstat(fd)
            if status.st_uid != os.geteuid():
                os.close(fd)
                return None
            head = os.pread(fd, HEADER.size + SECRET_BYTES[1], 0)
            if len(head) < HEADER.size:
                raise ValueError("shared_memory: not a ring")
            magic, version, slots, slot_bytes, secret_length = HEADER.unpack_from(head)
            secret = head[HEADER.size:HEADER.size + secret_length]
            if magic != MAGIC or version != VERSION or not hmac.compare_digest(secret, reference.secret):
                raise ValueError("shared_memory: the object is not this request's ring")
            if not 1 <= slots <= MAX_SLOTS or slot_bytes < needed_bytes or status.st_size != PAGE + slots * slot_bytes:
                raise ValueError(f"shared_memory: the ring needs 1..{MAX_SLOTS} slots of at least {needed_bytes} "
                                 f"bytes, and the matching size")
            return cls(fd, mmap.mmap(fd, status.st_size), slots, slot_bytes)
        except BaseException:
            os.close(fd)
            raise

    def take_next(self) -> int | None:
        """The next slot, marked HELD, if the reader has freed it; else None (try again later). OSError when
        /dev/shm has no room for the slot's first use."""
        slot = self.next % self.slots
        if self.memory[STATES_AT + slot] != FREE:
            return None
        if self.next < self.slots:
            os.posix_fallocate(self.fd, PAGE + slot * self.slot_bytes, self.slot_bytes)
        self.memory[STATES_AT + slot] = HELD
        self.next += 1
        return slot

    def close(self) -> None:
        self.unmap()
        os.close(self.fd)
