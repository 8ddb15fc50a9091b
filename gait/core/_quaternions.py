"""Unit quaternions (w, x, y, z) as four arrays, axes forward / left / up, vectorised:
products, exponentials, the cumulative product of a whole recording in blocks, rotations;
the orientation integrated from the gyroscope (used by `gait.core.frames`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from .._lazy import lazy_function

if TYPE_CHECKING:
    from scipy.integrate import cumulative_trapezoid
    from scipy.signal import sosfiltfilt
else:
    cumulative_trapezoid = lazy_function("scipy.integrate", "cumulative_trapezoid")
    sosfiltfilt = lazy_function("scipy.signal", "sosfiltfilt")


# ---------------------------------------------------------------------------------------
# quaternions (w, x, y, z) as four arrays, axes forward / left / up; vectorised
# ---------------------------------------------------------------------------------------
_Quat = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


#: block length of the prefix product (`_qcumprod`)
_SCAN_BLOCK = 64


#: samples per block of the elementwise chains (`_blockwise`): their temporaries stay in the
#: CPU cache instead of each making a pass over memory
_BLOCK = 1 << 14


def _blockwise(
    fn: Callable[..., tuple[np.ndarray, ...]],
    *arrays: np.ndarray,
    out: tuple[np.ndarray | None, ...] | None = None,
) -> tuple[np.ndarray, ...]:
    """``fn(*arrays)`` evaluated on blocks of `_BLOCK` samples, into arrays allocated once.

    ``fn`` must work sample by sample (elementwise arithmetic on 1-D arrays of equal length):
    the numbers are then exactly those of one call on the whole arrays. ``out`` may give
    arrays (views included) to write results into, None where a new array is wanted.
    """
    n = arrays[0].size
    outs: list[np.ndarray] = []
    for a in range(0, max(n, 1), _BLOCK):
        part = fn(*(x[a : a + _BLOCK] for x in arrays))
        if not outs:
            given = out if out is not None else (None,) * len(part)
            outs = [np.empty(n, dtype=r.dtype) if o is None else o for o, r in zip(given, part)]
        for o, r in zip(outs, part):
            o[a : a + _BLOCK] = r
    return tuple(outs)


def _qmul(a: _Quat, b: _Quat) -> _Quat:
    """Hamilton product ``a b`` (broadcasting)."""
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return (
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    )


def _qexp(rx: np.ndarray, ry: np.ndarray, rz: np.ndarray) -> _Quat:
    """Quaternion of each rotation vector ``(rx, ry, rz)`` (angle = its norm)."""
    a2 = _blockwise(lambda x, y, z: (x * x + y * y + z * z,), rx, ry, rz)[0]
    if a2.size and float(a2.max()) <= 0.25:
        # the increments of one sample are far below 0.5 rad: Taylor series, exact to 1e-12
        return _blockwise(_qexp_taylor, a2, rx, ry, rz)  # type: ignore[return-value]
    a = np.sqrt(a2)
    c = np.cos(a / 2)
    safe = np.where(a < 1e-8, 1.0, a)
    s = np.where(a < 1e-8, 0.5, np.sin(a / 2) / safe)
    return c, s * rx, s * ry, s * rz


def _qexp_taylor(a2: np.ndarray, rx: np.ndarray, ry: np.ndarray, rz: np.ndarray) -> _Quat:
    """`_qexp` by its Taylor series, given the squared angles ``a2`` (all at most 0.25)."""
    c = 1.0 - a2 / 8.0 * (1.0 - a2 / 48.0 * (1.0 - a2 / 120.0))
    s = 0.5 - a2 / 48.0 * (1.0 - a2 / 80.0 * (1.0 - a2 / 168.0))
    return c, s * rx, s * ry, s * rz


def _qcumprod(q: _Quat | list[np.ndarray]) -> _Quat:
    """Running product ``q_0 q_1 ... q_k`` for every ``k`` (a prefix scan, vectorised).

    The samples are laid out in blocks of `_SCAN_BLOCK`; products run along the block (one
    vectorised step per position in the block, over all blocks at once), the block totals are
    scanned the same way (recursively), and each block is finally left-multiplied, in place, by
    the product of the blocks before it. Work is about three products per sample. Given a list,
    the function empties it once read, so that the caller's copy of the input can be freed
    before the product's own arrays are made (an hour at 200 Hz: 23 MB less at the peak).
    """
    n = q[0].size
    b = _SCAN_BLOCK
    if n <= b:
        out = [np.array(c, dtype=float, copy=True) for c in q]
        for k in range(1, n):
            p = _qmul(
                (out[0][k - 1], out[1][k - 1], out[2][k - 1], out[3][k - 1]),
                (out[0][k], out[1][k], out[2][k], out[3][k]),
            )
            for c in range(4):
                out[c][k] = p[c]
        return out[0], out[1], out[2], out[3]
    m = -(-n // b)
    # one (position in the block, block) array per component: rows are contiguous
    A: list[np.ndarray] = []
    for comp, ident in zip(q, (1.0, 0.0, 0.0, 0.0)):
        x = np.full(m * b, ident)
        x[:n] = comp
        A.append(x.reshape(m, b).T.copy())
        del x
    if isinstance(q, list):
        q.clear()
    W, X, Y, Z = A
    for j in range(1, b):
        W[j], X[j], Y[j], Z[j] = _qmul((W[j - 1], X[j - 1], Y[j - 1], Z[j - 1]), (W[j], X[j], Y[j], Z[j]))
    tw, tx, ty, tz = _qcumprod((W[-1].copy(), X[-1].copy(), Y[-1].copy(), Z[-1].copy()))
    before = tuple(np.concatenate([[ident], t[:-1]]) for t, ident in zip((tw, tx, ty, tz), (1.0, 0.0, 0.0, 0.0)))
    # each block left-multiplied by the product of the blocks before it, a few blocks at a
    # time (the temporaries stay in the cache), in place
    step = max(_BLOCK // b, 1)
    for j in range(0, m, step):
        cols = slice(j, j + step)
        part = _qmul(
            (before[0][cols], before[1][cols], before[2][cols], before[3][cols]),
            (W[:, cols], X[:, cols], Y[:, cols], Z[:, cols]),
        )
        for c in range(4):
            A[c][:, cols] = part[c]
    del W, X, Y, Z
    # written out in sample order, one component at a time (each block array let go once copied)
    out = []
    for c in range(4):
        out.append(np.ascontiguousarray(A[c].T).reshape(-1)[:n])
        A[c] = np.empty(0)
    return out[0], out[1], out[2], out[3]


def _qrotate(q: _Quat, v: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rotate vectors ``v`` by unit quaternions ``q``: ``v + w t + u x t`` with ``t = 2 u x v``."""
    return _blockwise(_qrotate_block, *q, *v)  # type: ignore[return-value]


def _qrotate_inverse(
    q: _Quat, v: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rotate vectors ``v`` by the inverses (conjugates) of unit quaternions ``q``."""

    def block(w: np.ndarray, x: np.ndarray, y: np.ndarray, z: np.ndarray, *vb: np.ndarray) -> tuple[np.ndarray, ...]:
        return _qrotate_block(w, -x, -y, -z, *vb)

    return _blockwise(block, *q, *v)  # type: ignore[return-value]


def _qrotate_block(
    w: np.ndarray, x: np.ndarray, y: np.ndarray, z: np.ndarray, vx: np.ndarray, vy: np.ndarray, vz: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`_qrotate` on one block."""
    tx = 2.0 * (y * vz - z * vy)
    ty = 2.0 * (z * vx - x * vz)
    tz = 2.0 * (x * vy - y * vx)
    return (
        vx + w * tx + (y * tz - z * ty),
        vy + w * ty + (z * tx - x * tz),
        vz + w * tz + (x * ty - y * tx),
    )


def gyro_orientation(w_flu: np.ndarray, sampling_rate_hz: float) -> _Quat:
    """Orientation (body -> initial body) from body angular rates, as unit quaternions.

    ``w_flu`` holds the rates (rad/s) about the forward, left and up axes, shape ``(n, 3)``.
    Each increment is the two-sample (trapezoid plus coning) rotation vector
    ``(w[k-1] + w[k]) dt / 2 + (w[k-1] x w[k]) dt^2 / 12``; the increments are multiplied in
    order (`_qcumprod`).
    """
    wx, wy, wz = (np.ascontiguousarray(w_flu[:, k]) for k in range(3))
    return _orientation(wx, wy, wz, sampling_rate_hz)


def _orientation(wx: np.ndarray, wy: np.ndarray, wz: np.ndarray, sampling_rate_hz: float) -> _Quat:
    """`gyro_orientation` on the three rate columns."""
    n = wx.size
    dt = 1.0 / float(sampling_rate_hz)
    rx = np.zeros(n)
    ry = np.zeros(n)
    rz = np.zeros(n)
    if n > 1:
        k2 = dt * dt / 12.0

        def increments(
            a0: np.ndarray, a1: np.ndarray, a2: np.ndarray, b0: np.ndarray, b1: np.ndarray, b2: np.ndarray
        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            return (
                (a0 + b0) * (dt / 2) + (a1 * b2 - a2 * b1) * k2,
                (a1 + b1) * (dt / 2) + (a2 * b0 - a0 * b2) * k2,
                (a2 + b2) * (dt / 2) + (a0 * b1 - a1 * b0) * k2,
            )

        rx[1:], ry[1:], rz[1:] = _blockwise(increments, wx[:-1], wy[:-1], wz[:-1], wx[1:], wy[1:], wz[1:])
    q = list(_qexp(rx, ry, rz))
    del rx, ry, rz  # not held through the product's own temporaries (nor is q: a list it empties)
    # products of unit quaternions stay unit to rounding (1e-12 after an hour at 200 Hz)
    return _qcumprod(q)
