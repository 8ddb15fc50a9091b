"""Accelerometer axes to gyroscope axes, from the movements between still poses.

Gravity fixes the accelerometer correction only up to a rotation of the whole triad. The
gyroscope sees that rotation: between two still poses it measures the turn that carried
gravity from one corrected direction to the next. Fitting the rotation ``P`` (accelerometer
-> gyroscope axes) and the gyroscope's per-axis scale ``k`` to every movement between poses
puts both sensors on the same axes, so a mounting found from gravity and walking applies to
the gyroscope exactly.
"""

from __future__ import annotations

import math

import numpy as np

from gait.constants import DEG_PER_RAD
from gait.session import GAP_FACTOR, Session

__all__ = ["Alignment", "align_to_gyroscope"]

#: Movements between poses needed, and the most the fit may miss by (RMS, deg): a consistent
#: recording fits to a few hundredths of a degree; an accelerometer model that misses the
#: triad's non-orthogonality (six faces only) leaves 0.4-1.2 deg and would bend the result.
MIN_TRANSITIONS = 4
MAX_ALIGNMENT_RESIDUAL_DEG = 0.25
#: The same for the six-face (bias and scale) model, which cannot see non-orthogonality: only
#: a triad square to about 0.3 deg fits this well, and then the alignment is right.
MAX_ALIGNMENT_RESIDUAL_DEG_BIAS_SCALE = 0.1
MAX_CONDITION = 1e3
#: A gyroscope scale error beyond this is taken as a failed fit, not a property of the sensor.
MAX_GYR_SCALE_ERROR = 0.05


class Alignment:
    """Result of `align_to_gyroscope` (plain attributes; ``ok`` False carries ``reason``)."""

    def __init__(
        self,
        *,
        ok: bool,
        rotation: np.ndarray | None = None,
        gyr_scale: np.ndarray | None = None,
        gyr_bias_rads: np.ndarray | None = None,
        residual_deg: float = math.nan,
        n_transitions: int = 0,
        reason: str = "",
    ) -> None:
        self.ok = ok
        self.rotation = np.eye(3) if rotation is None else rotation
        self.gyr_scale = np.ones(3) if gyr_scale is None else gyr_scale
        self.gyr_bias_rads = np.zeros(3) if gyr_bias_rads is None else gyr_bias_rads
        self.residual_deg = residual_deg
        self.n_transitions = n_transitions
        self.reason = reason


def _qmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product of quaternions ``(w, x, y, z)`` along the last axis."""
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def _qexp(v: np.ndarray) -> np.ndarray:
    """Quaternion of the rotation vector ``v`` (last axis)."""
    th = np.linalg.norm(v, axis=-1, keepdims=True)
    half = 0.5 * th
    # sin(th/2)/th, with its series near 0
    s = np.where(th > 1e-8, np.sin(half) / np.where(th > 1e-8, th, 1.0), 0.5 - th * th / 48.0)
    return np.concatenate([np.cos(half), s * v], axis=-1)


def _compose(increments: np.ndarray) -> np.ndarray:
    """Ordered product ``q_0 q_1 ... q_{L-1}`` along axis 1 of ``(n, L, 4)``, by pairwise reduction."""
    q = increments
    while q.shape[1] > 1:
        if q.shape[1] % 2:
            ident = np.zeros((q.shape[0], 1, 4))
            ident[..., 0] = 1.0
            q = np.concatenate([q, ident], axis=1)
        q = _qmul(q[:, 0::2], q[:, 1::2])
    return q[:, 0]


def _qmat(q: np.ndarray) -> np.ndarray:
    w, x, y, z = np.moveaxis(q / np.linalg.norm(q, axis=-1, keepdims=True), -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
            np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
            np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )


def align_to_gyroscope(
    session: Session,
    segments: list[slice],
    directions: np.ndarray,
    *,
    max_residual_deg: float = MAX_ALIGNMENT_RESIDUAL_DEG,
) -> Alignment:
    """Rotation from corrected accelerometer axes to gyroscope axes, and the gyroscope scale.

    Parameters
    ----------
    session
        The raw pose recording, with a gyroscope.
    segments
        Still segments, in time order.
    directions
        Unit gravity direction of each segment in corrected accelerometer axes.
    max_residual_deg
        Largest acceptable RMS disagreement, deg.

    Returns
    -------
    Alignment
        ``ok`` False (with ``reason``) when there is no gyroscope, too few movements between
        poses without a gap, movements that do not determine the fit, a fit residual above
        ``max_residual_deg``, or a gyroscope scale more than 5 % from 1.

    Notes
    -----
    Model: ``w = diag(k) (w_raw - b_g)`` in gyroscope axes, ``b_g`` the mean rate over the
    still segments; the turn between poses is the ordered product of ``exp(w dt)`` over the
    movement (rates at mid-samples); the gravity directions obey ``P d_{i+1} = dR_i^T P d_i``.
    Least squares over ``P`` (rotation vector) and ``k``. This is the gyroscope step of
    Tedaldi, Pretto and Menegatti (2014), ICRA, pp. 3042-3049, with the roles turned round
    (the accelerometer is rotated into the gyroscope's axes, so the gyroscope's frame, the one
    the mounting is defined in, is kept) and without the gyroscope non-orthogonality terms.
    """
    from scipy.optimize import least_squares
    from scipy.spatial.transform import Rotation

    if session.gyr is None:
        return Alignment(ok=False, reason="no gyroscope")
    gyr, t = session.gyr, session.t
    fs = session.sampling_rate_hz
    still = np.concatenate([gyr[s] for s in segments]) if segments else np.zeros((0, 3))
    if not np.all(np.isfinite(still)) or still.shape[0] == 0:
        return Alignment(ok=False, reason="no usable gyroscope samples while still")
    bias = still.mean(axis=0)
    pairs = []
    for i in range(len(segments) - 1):  # loop over movements (a few dozen at most)
        a, b = segments[i].stop - 1, segments[i + 1].start
        if b <= a or np.any(np.diff(t[a : b + 1]) > GAP_FACTOR / fs) or not np.all(np.isfinite(gyr[a : b + 1])):
            continue
        pairs.append((i, a, b))
    if len(pairs) < MIN_TRANSITIONS:
        return Alignment(
            ok=False, reason=f"{len(pairs)} movements between poses without a gap (at least {MIN_TRANSITIONS} needed)"
        )
    length = max(b - a for _, a, b in pairs)
    w_mid = np.zeros((len(pairs), length, 3))  # padded with zero rate (identity increments)
    dt = np.zeros((len(pairs), length, 1))
    for j, (_, a, b) in enumerate(pairs):
        w_mid[j, : b - a] = 0.5 * (gyr[a:b] + gyr[a + 1 : b + 1]) - bias
        dt[j, : b - a, 0] = np.diff(t[a : b + 1])
    d0 = directions[[i for i, _, _ in pairs]]
    d1 = directions[[i + 1 for i, _, _ in pairs]]

    def residuals(x: np.ndarray) -> np.ndarray:
        p = Rotation.from_rotvec(x[:3]).as_matrix()
        dr = _qmat(_compose(_qexp(w_mid * x[3:] * dt)))
        lhs = d1 @ p.T
        rhs = np.einsum("nji,nj->ni", dr, d0 @ p.T)  # dR^T (P d0)
        return (lhs - rhs).ravel()

    res = least_squares(residuals, np.array([0.0, 0.0, 0.0, 1.0, 1.0, 1.0]), method="lm", xtol=1e-12, ftol=1e-12)
    s = np.linalg.svd(res.jac, compute_uv=False)
    cond = float(s[0] / s[-1]) if s[-1] > 0 else math.inf
    r = res.fun.reshape(-1, 3)
    rms_deg = float(np.sqrt(np.mean(np.sum(r * r, axis=1)))) * DEG_PER_RAD
    if cond > MAX_CONDITION:
        return Alignment(
            ok=False, n_transitions=len(pairs), reason="the movements between poses do not determine it (turn the "
            "sensor about different axes)", residual_deg=rms_deg,
        )  # fmt: skip
    if rms_deg > max_residual_deg:
        return Alignment(
            ok=False, n_transitions=len(pairs), residual_deg=rms_deg,
            reason=f"the gyroscope and the poses disagree by {rms_deg:.2f} deg RMS (at most "
            f"{max_residual_deg:g}; add tilted poses if only the six faces were recorded)",
        )  # fmt: skip
    if np.abs(res.x[3:] - 1.0).max() > MAX_GYR_SCALE_ERROR:
        return Alignment(
            ok=False, n_transitions=len(pairs), residual_deg=rms_deg,
            reason=f"implausible gyroscope scale {np.array2string(res.x[3:], precision=3)}",
        )  # fmt: skip
    return Alignment(
        ok=True,
        rotation=Rotation.from_rotvec(res.x[:3]).as_matrix(),
        gyr_scale=np.asarray(res.x[3:], dtype=float),
        gyr_bias_rads=bias,
        residual_deg=rms_deg,
        n_transitions=len(pairs),
    )
