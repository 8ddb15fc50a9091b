"""The fast paths of reading and of the level frame give exactly what the plain ones give.

Reading: one whole gzip member is inflated in one call (ISA-L when installed); anything else
(several members, padding, damage) goes the standard library's way. The guard counts of the
CSV reader (newlines, commas) are taken a block at a time. The level frame evaluates its
elementwise chains a block at a time. Each is checked against the plain computation, bit for
bit, including sizes around the block boundaries.
"""

from __future__ import annotations

import gzip
import warnings

import numpy as np
import pytest

from gait.core import _quaternions as quat
from gait.errors import GaitDataWarning
from gait.io import read_canonical_session, save_session
from gait.io._csv import _COUNT_BLOCK, _count_lines_and_commas, _gunzip
from gait.session import Session, SessionMetadata


def _session(n: int, seed: int = 0) -> Session:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 200.0
    acc = rng.normal(0, 1, (n, 3)) + np.array([0.0, 0.0, 9.81])
    gyr = rng.normal(0, 0.5, (n, 3))
    return Session(t=t, acc=acc, gyr=gyr, frame="sensor", meta=SessionMetadata(sampling_rate_hz=200.0))


def test_one_gzip_member_inflates_as_the_standard_library_does(tmp_path):
    data = b"x,y\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(50_000))
    packed = gzip.compress(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _gunzip(packed, where=None) == gzip.decompress(packed) == data  # type: ignore[arg-type]


@pytest.mark.parametrize("tail", [b"", b"\x00" * 16], ids=["two members", "two members and padding"])
def test_several_gzip_members_are_all_read(tmp_path, tail):
    """A file of two gzip members (``cat a.gz b.gz``) loads both, as ``gzip.decompress`` does."""
    s = _session(4000)
    whole = tmp_path / "whole.csv"
    save_session(s, whole)
    text = whole.read_bytes()
    cut = text.index(b"\n", len(text) // 2) + 1
    p = tmp_path / "two.csv.gz"
    p.write_bytes(gzip.compress(text[:cut]) + gzip.compress(text[cut:]) + tail)
    with warnings.catch_warnings():
        warnings.simplefilter("error", GaitDataWarning)
        a, b = read_canonical_session(p), read_canonical_session(whole)
    assert np.array_equal(a.t, b.t) and np.array_equal(a.acc, b.acc) and np.array_equal(a.gyr, b.gyr)


@pytest.mark.parametrize("size", [0, 1, _COUNT_BLOCK - 1, _COUNT_BLOCK, _COUNT_BLOCK + 1, 3 * _COUNT_BLOCK + 17])
def test_line_and_comma_counts_match_bytes_count(size):
    rng = np.random.default_rng(size)
    raw = bytes(rng.choice(np.frombuffer(b"0123456789.,\n-e", dtype=np.uint8), size + 40))
    for start, stop in ((0, size), (7, size + 40), (size // 2, size + 1)):
        start, stop = min(start, stop), max(start, stop)
        assert _count_lines_and_commas(raw, start, stop) == (
            raw.count(b"\n", start, stop),
            raw.count(b",", start, stop),
        )


@pytest.mark.parametrize("n", [1, quat._BLOCK - 1, quat._BLOCK, quat._BLOCK + 1, 3 * quat._BLOCK + 5])
def test_blockwise_is_the_whole_array_computation(n):
    rng = np.random.default_rng(n)
    x, y = rng.normal(size=n), rng.normal(size=n)

    def fn(a, b):
        return (np.arctan2(a, b) * a - b / (1.0 + a * a), np.sqrt(a * a + b * b))

    want = fn(x, y)
    got = quat._blockwise(fn, x, y)
    assert all(np.array_equal(w.view(np.int64), g.view(np.int64)) for w, g in zip(want, got))
    out = (np.empty(n), np.empty((n, 3))[:, 1])  # a strided view is written in place
    quat._blockwise(fn, x, y, out=out)
    assert all(np.array_equal(w.view(np.int64), o.view(np.int64)) for w, o in zip(want, out))


def test_rotation_by_the_inverse_is_the_rotation_by_the_conjugate():
    n = 2 * quat._BLOCK + 11
    rng = np.random.default_rng(3)
    q = rng.normal(size=(4, n))
    q /= np.linalg.norm(q, axis=0)
    v = tuple(rng.normal(size=(3, n)))
    want = quat._qrotate((q[0], -q[1], -q[2], -q[3]), v)  # type: ignore[arg-type]
    got = quat._qrotate_inverse((q[0], q[1], q[2], q[3]), v)  # type: ignore[arg-type]
    assert all(np.array_equal(w, g) for w, g in zip(want, got))


def test_prefix_product_matches_the_sequential_product():
    n = 3 * quat._SCAN_BLOCK + 5
    rng = np.random.default_rng(4)
    q = rng.normal(size=(4, n)) * [[1.0], [0.05], [0.05], [0.05]]
    q /= np.linalg.norm(q, axis=0)
    got = np.array(quat._qcumprod((q[0], q[1], q[2], q[3])))
    acc = q[:, 0]
    for k in range(1, n):
        assert np.allclose(got[:, k - 1], acc, rtol=0, atol=1e-12)
        acc = np.array(quat._qmul(tuple(acc), tuple(q[:, k])))  # type: ignore[arg-type]
    assert np.allclose(got[:, -1], acc, rtol=0, atol=1e-12)
