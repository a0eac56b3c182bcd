"""The SFTP channel's receive buffer (ftpbridge.transport.sftp.receive_buffer.ChunkedPipe)
behaves like paramiko's BufferedPipe: same bytes in the same order, same lengths, same close
and timeout behaviour. It replaces BufferedPipe's array (see the class's docstring)."""

from __future__ import annotations

import random
import threading

import pytest
from paramiko.buffered_pipe import BufferedPipe, PipeTimeout

from ftpbridge.transport.sftp.receive_buffer import ChunkedPipe as _ChunkedPipe


def test_random_feeds_and_reads_match_paramikos_buffer() -> None:
    chance = random.Random(20261123)
    ours, theirs = _ChunkedPipe(), BufferedPipe()
    for _ in range(20_000):
        if chance.random() < 0.5:
            data = chance.randbytes(chance.randint(0, 60))
            ours.feed(data)
            theirs.feed(data)
        else:
            size = chance.randint(1, 90)
            if len(theirs):
                assert ours.read(size) == theirs.read(size)
        assert len(ours) == len(theirs)
        assert ours.read_ready() == theirs.read_ready()
    assert ours.empty() == theirs.empty()
    assert len(ours) == 0


def test_a_read_waits_for_data_from_another_thread_and_times_out_without() -> None:
    pipe = _ChunkedPipe()
    threading.Timer(0.05, pipe.feed, args=(b"abc",)).start()
    assert pipe.read(10, timeout=5) == b"abc"
    with pytest.raises(PipeTimeout):
        pipe.read(10, timeout=0.05)


def test_closed_buffer_gives_what_is_left_then_end_of_file() -> None:
    pipe = _ChunkedPipe()
    pipe.feed(b"tail")
    pipe.close()
    assert pipe.read(2) == b"ta"
    assert pipe.read(10) == b"il"
    assert pipe.read(10) == b""
