"""How the sensor sits on the back: the rotation from sensor axes to the body frame.

The body frame (`gait.constants`) is anatomical: ``v`` up, ``ap`` forward, ``ml`` left. Two
observations fix it:

1. **Vertical** from standing still: the mean specific force of a still posture points up. The
   standing posture is also the reference for trunk lean (zero lean = how the runner stands).
2. **Forward** from walking or running: the antero-posterior acceleration is step-periodic
   (braking then propulsion at every step), whereas the medio-lateral one alternates with the
   side and repeats only every stride. Summing the horizontal acceleration with itself one step
   later cancels the alternating (medio-lateral) part; the principal axis of what remains is
   the antero-posterior line. Its sign comes from the order of braking and propulsion relative
   to the vertical load: in running the trunk decelerates while the vertical force rises and
   accelerates while it falls (negative correlation of ``a_ap`` with ``d a_v / dt``); in
   walking the vertical force is lowest at midstance, so the correlation is positive.

``ml`` completes the right-handed frame (``ml = v x ap``).

Without a standing period the vertical comes from the mean specific force over the activity,
i.e. the runner's mean trunk posture while running: lean is then undefined (there is no
reference) and is reported as unavailable rather than as zero.

Notes
-----
The principal-axis approach for the forward direction of a trunk sensor is common in gait
analysis (e.g. Moe-Nilssen 1998, "A new method for evaluating motor control in gait under
real-life environmental conditions", realignment of trunk accelerometry). Deviations: the
step-shift sum to suppress the medio-lateral (stride-periodic) component, and the braking /
propulsion sign rule, are this project's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gait.constants import G
from gait.errors import GaitInputError, Where

__all__ = ["MountingEstimate", "estimate_mounting", "rotation_from_axes"]

#: at most this much walking / running is used for the forward direction
MAX_FORWARD_S = 300.0


@dataclass(frozen=True)
class MountingEstimate:
    """Sensor-to-body rotation and how it was obtained.

    Attributes
    ----------
    rotation
        3x3 matrix whose rows are the body axes (``v``, ``ap``, ``ml``) expressed in sensor
        coordinates: ``body = sensor @ rotation.T``.
    vertical_source
        ``"standing"`` (a still posture; lean is measured against it) or ``"activity"`` (mean
        posture while moving; lean is unavailable).
    forward_source
        ``"running"``, ``"walking"`` or ``"none"`` (no periodic activity: forward unknown).
    forward_confidence
        0..1: how clearly the antero-posterior axis stood out (1 - minor/major variance) and
        how consistent the braking sign was.
    still_s, moving_s
        Seconds of data each estimate used.
    """

    rotation: np.ndarray
    vertical_source: str
    forward_source: str
    forward_confidence: float
    still_s: float
    moving_s: float

    @property
    def has_lean_reference(self) -> bool:
        return self.vertical_source == "standing"

    def to_dict(self) -> dict:
        return {
            "rotation": np.round(self.rotation, 12).tolist(),
            "vertical_source": self.vertical_source,
            "forward_source": self.forward_source,
            "forward_confidence": round(float(self.forward_confidence), 4),
            "still_s": round(float(self.still_s), 3),
            "moving_s": round(float(self.moving_s), 3),
        }


def rotation_from_axes(up: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Rows (v, ap, ml) of a right-handed frame from an up vector and a rough forward vector."""
    v = np.asarray(up, dtype=float)
    v = v / np.linalg.norm(v)
    f = np.asarray(forward, dtype=float)
    ap = f - v * (f @ v)
    n = np.linalg.norm(ap)
    if n < 1e-9:
        raise GaitInputError(
            "degenerate axes",
            expected="a forward direction not parallel to vertical",
            found=f"{forward}",
            where=Where(parameter="forward"),
        )
    ap = ap / n
    ml = np.cross(v, ap)
    return np.vstack([v, ap, ml])


def _step_period_samples(x: np.ndarray, fs: float) -> int:
    """Dominant step period (samples) from the autocorrelation of a vertical-ish signal."""
    x = x - x.mean()
    n = x.size
    spec = np.fft.rfft(x, 2 * n)
    ac = np.fft.irfft(spec * np.conj(spec))[:n]
    lo, hi = int(0.25 * fs), min(int(0.8 * fs), n - 1)
    if hi <= lo:
        return max(int(0.35 * fs), 1)
    return lo + int(np.argmax(ac[lo:hi]))


def estimate_mounting(
    acc: np.ndarray,
    *,
    sampling_rate_hz: float,
    still: np.ndarray,
    running: np.ndarray,
    walking: np.ndarray | None = None,
) -> MountingEstimate:
    """Estimate the sensor-to-body rotation from still, running and walking samples.

    Parameters
    ----------
    acc
        Sensor-frame specific force, m/s^2, shape ``(n, 3)``.
    sampling_rate_hz
        Sampling rate.
    still, running, walking
        Boolean masks of the samples in each activity (from `gait.activity`).

    Returns
    -------
    MountingEstimate
    """
    acc = np.asarray(acc, dtype=float)
    fs = float(sampling_rate_hz)
    walking = np.zeros(acc.shape[0], bool) if walking is None else walking
    moving = running if running.sum() >= 4 * fs else walking
    forward_source = (
        "running"
        if moving is running and running.sum() >= 4 * fs
        else ("walking" if walking.sum() >= 4 * fs else "none")
    )
    if still.sum() >= 1.0 * fs:
        up = acc[still].mean(axis=0)
        vertical_source = "standing"
        still_s = still.sum() / fs
    elif moving.sum() > 0:
        up = acc[moving].mean(axis=0)
        vertical_source = "activity"
        still_s = 0.0
    else:
        up = acc.mean(axis=0)
        vertical_source = "activity"
        still_s = 0.0
    if not np.isfinite(up).all() or np.linalg.norm(up) < 0.3 * G:
        raise GaitInputError(
            "cannot find vertical",
            expected="a mean specific force near 1 g while standing or moving",
            found=f"|mean acc| = {np.linalg.norm(up):.3g} m/s^2",
            where=Where(parameter="acc"),
        )
    up = up / np.linalg.norm(up)
    if forward_source == "none":
        # no periodic activity: any horizontal axis; forward unknown
        helper = np.eye(3)[int(np.argmin(np.abs(up)))]
        return MountingEstimate(rotation_from_axes(up, helper), vertical_source, "none", 0.0, still_s, 0.0)

    # the horizontal plane of the moving posture (its own gravity), to keep the trunk's
    # lean from leaking vertical dynamics into the forward estimate
    idx = np.flatnonzero(moving)
    idx = idx[: int(MAX_FORWARD_S * fs)]  # a few minutes define the forward direction well
    a = acc[idx]
    up_moving = a.mean(axis=0)
    up_moving /= np.linalg.norm(up_moving)
    basis = rotation_from_axes(up_moving, np.eye(3)[int(np.argmin(np.abs(up_moving)))])
    av = a @ basis[0]
    h = a @ basis[1:].T  # (n, 2) horizontal
    h -= h.mean(axis=0)
    # contiguous runs of the mask: only shift within them
    T = _step_period_samples(av[: int(min(av.size, 60 * fs))], fs)
    contiguous = np.diff(idx) == 1
    ok = np.ones(idx.size - T, bool) if idx.size > T else np.zeros(0, bool)
    if ok.size:
        run_break = np.concatenate([[0], np.cumsum(~contiguous)])
        ok = run_break[T:] == run_break[:-T]
    s = h[:-T][ok] + h[T:][ok] if ok.size else h
    cov = s.T @ s / max(len(s), 1)
    w, vecs = np.linalg.eigh(cov)
    major = vecs[:, 1]
    anisotropy = 1.0 - w[0] / w[1] if w[1] > 0 else 0.0
    fwd_h = major @ basis[1:]  # back to sensor coordinates
    # sign: braking while the vertical load rises (running), the reverse in walking
    a_ap = a @ fwd_h
    dav = np.gradient(av) * fs
    valid = np.concatenate([contiguous, [True]])
    c = float(np.sum((a_ap - a_ap.mean()) * dav * valid))
    sign = -1.0 if forward_source == "running" else 1.0
    if c * sign < 0:
        fwd_h = -fwd_h
        a_ap = -a_ap
    # confidence of the sign: correlation strength
    denom = np.sqrt(np.sum((a_ap - a_ap.mean()) ** 2) * np.sum(dav**2)) + 1e-12
    sign_strength = min(1.0, abs(c) / denom * 3.0)
    rot = rotation_from_axes(up, fwd_h)
    return MountingEstimate(
        rotation=rot,
        vertical_source=vertical_source,
        forward_source=forward_source,
        forward_confidence=float(anisotropy * sign_strength),
        still_s=still_s,
        moving_s=idx.size / fs,
    )
