"""Inspect's shared-memory ring: the layout a client creates and a worker opens, slots used in order and freed by
the reader, and the checks that keep a worker writing only into the ring its request names."""
import os

import numpy as np
import pytest

from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_protos.shared_memory import SHM_DIR, Ring, RingWriter, problem
from lenet_protos.tensors import from_tensor, tensor_bytes


@pytest.fixture
def ring():
    created, reference = Ring.create(slots=3, slot_bytes=4096)
    yield created, reference
    created.close()


def test_the_writer_uses_the_slots_in_order_once_the_reader_frees_them(ring):
    reader, reference = ring
    writer = RingWriter.attach(reference, needed_bytes=4096)
    assert [writer.take_next() for _ in range(4)] == [0, 1, 2, None]   # all three held: the writer waits
    reader.free(0)
    assert writer.take_next() == 0 and writer.take_next() is None
    writer.close()


def test_rows_written_by_the_worker_are_read_by_the_client(ring):
    reader, reference = ring
    writer = RingWriter.attach(reference, needed_bytes=4096)
    rows = np.arange(24, dtype="<f4").reshape(2, 3, 4)
    slot = writer.take_next()
    np.frombuffer(writer.data(slot, rows.nbytes), dtype="<f4").reshape(rows.shape)[:] = rows
    tensor = pb.Tensor(name="Conv1", shape=rows.shape, dtype=pb.FLOAT32)
    read = from_tensor(tensor, reader.data(slot, tensor_bytes(tensor)).toreadonly())
    np.testing.assert_array_equal(read, rows)
    assert not read.flags.writeable
    del read
    writer.close()


def test_a_worker_opens_only_the_ring_its_request_names(ring):
    _, reference = ring
    assert RingWriter.attach(pb.SharedMemoryRing(name="lenet-elsewhere", secret=b"s" * 16)) is None   # another host's
    with pytest.raises(ValueError, match="not this request's ring"):
        RingWriter.attach(pb.SharedMemoryRing(name=reference.name, secret=b"x" * 32), needed_bytes=4096)
    with pytest.raises(ValueError, match="at least"):
        RingWriter.attach(reference, needed_bytes=8192)   # slots too small for the worker's chunks
    with pytest.raises(ValueError, match="name"):
        RingWriter.attach(pb.SharedMemoryRing(name="../etc/passwd", secret=b"s" * 16))


def test_a_file_that_is_not_a_ring_is_refused(tmp_path):
    name = "lenet-not-a-ring"
    with open(os.path.join(SHM_DIR, name), "wb") as file:
        file.write(b"hello")
    try:
        with pytest.raises(ValueError, match="not"):
            RingWriter.attach(pb.SharedMemoryRing(name=name, secret=b"s" * 16))
    finally:
        os.unlink(os.path.join(SHM_DIR, name))


def test_references_are_checked_before_use():
    assert problem(pb.SharedMemoryRing(name="lenet-abc_D-9", secret=b"s" * 16)) is None
    assert "name" in problem(pb.SharedMemoryRing(name="lenet-a/b", secret=b"s" * 16))
    assert "name" in problem(pb.SharedMemoryRing(name="other", secret=b"s" * 16))
    assert "secret" in problem(pb.SharedMemoryRing(name="lenet-a", secret=b"s" * 15))
    assert "secret" in problem(pb.SharedMemoryRing(name="lenet-a", secret=b"s" * 65))


def test_a_slot_or_size_the_ring_lacks_is_refused(ring):
    reader, _ = ring
    with pytest.raises(ValueError):
        reader.data(3, 16)
    with pytest.raises(ValueError):
        reader.data(0, 4097)


def test_the_creator_removes_the_object_when_done():
    created, reference = Ring.create(slots=1, slot_bytes=4096)
    path = os.path.join(SHM_DIR, reference.name)
    assert os.stat(path).st_mode & 0o777 == 0o600
    created.close()
    assert not os.path.exists(path)


def test_a_ring_of_another_user_is_not_written(ring, monkeypatch):
    """Its owner could shrink it under the worker's mapping (SIGBUS): the chunks then carry the rows instead."""
    _, reference = ring
    RingWriter.attach(reference, needed_bytes=4096).close()   # as its own user: written
    owner = os.stat(os.path.join(SHM_DIR, reference.name)).st_uid
    monkeypatch.setattr(os, "geteuid", lambda: owner + 1)   # as a worker running as another user sees it
    assert RingWriter.attach(reference, needed_bytes=4096) is None
