"""Activity bouts: still, walking and running, from rotation-invariant features.

The features use only the magnitude of the specific force (and of the angular rate), so bouts
can be found before the sensor's mounting is known. Over sliding windows (2 s, hop 0.25 s):

- *still*: the magnitude varies by less than 0.35 m/s^2 RMS (and the gyroscope, if any, reads
  below 0.25 rad/s on average);
- *running*: the sensor is in free fall (|f| < 0.35 g) for more than 5 % of the window (flight
  phases), or the magnitude varies by more than 4.5 m/s^2 RMS;
- *walking*: anything else that moves (0.5 to 4.5 m/s^2 RMS);
- *other*: movement too weak to be walking.

A stretch of *other* (or *still*) up to 5 s long between two walking bouts is walking that
slowed down: a turn, a hesitation, a few slow or irregular steps (on real walking with a
U-turn, the turn's steps move the magnitude by only 0.2-0.5 m/s^2 RMS).

Window labels are median-filtered, then bouts shorter than a minimum (running 3 s, walking 2 s,
still 1 s, other 1 s) are merged into their neighbours. Each contiguous segment of the session
(between gaps) is classified on its own.

Notes
-----
Thresholds were set from the physics of running (flight phases are free fall; stance peaks
reach 2-3 g) and checked on simulated and real recordings; see ``tests/test_activity.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .._checks import check_same_length, check_session, check_signal
from ..constants import G
from ..errors import GaitInputError, Where
from ..session import Session

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["KINDS", "detect_bouts", "bout_labels"]

#: Activity codes used in per-sample label arrays.
KINDS = ("still", "walking", "running", "other")
STILL, WALKING, RUNNING, OTHER = range(4)

WINDOW_S = 2.0
#: a window moves like walking from this RMS variation of the magnitude, m/s^2
WALKING_MIN_SD_MPS2 = 0.5
#: other / still between two walking bouts, up to this long, is part of the walk
WALK_BRIDGE_S = 5.0
HOP_S = 0.25
MIN_BOUT_S = {STILL: 1.0, WALKING: 2.0, RUNNING: 3.0, OTHER: 1.0}


def _window_sums(x: np.ndarray, centers: np.ndarray, half: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum of ``x`` over ``[c - half, c + half)`` for each centre (clipped at the ends)."""
    c = np.concatenate([[0.0], np.cumsum(x)])
    lo = np.clip(centers - half, 0, x.size)
    hi = np.clip(centers + half, 0, x.size)
    return c[hi] - c[lo], hi - lo


def _classify_segment(mag: np.ndarray, gmag: np.ndarray | None, fs: float) -> np.ndarray:
    n = mag.size
    half = max(int(WINDOW_S * fs / 2), 1)
    hop = max(int(HOP_S * fs), 1)
    centers = np.arange(0, n, hop)
    s1, cnt = _window_sums(mag, centers, half)
    s2, _ = _window_sums(mag**2, centers, half)
    ff, _ = _window_sums((mag < 0.35 * G).astype(float), centers, half)
    cnt = np.maximum(cnt, 1)
    mean = s1 / cnt
    sd = np.sqrt(np.maximum(s2 / cnt - mean**2, 0.0))
    freefall = ff / cnt
    gyro_mean = np.zeros_like(mean)
    if gmag is not None:
        gs, _ = _window_sums(gmag, centers, half)
        gyro_mean = gs / cnt
    label = np.full(centers.size, OTHER, dtype=np.int8)
    label[sd >= WALKING_MIN_SD_MPS2] = WALKING
    label[(freefall > 0.05) | (sd > 4.5)] = RUNNING
    still = (sd < 0.35) & (gyro_mean < 0.25)
    label[still] = STILL
    if label.size >= 5:
        from scipy.ndimage import median_filter

        label = median_filter(label, size=5, mode="nearest")
    # window labels -> samples (nearest window centre)
    per_sample = np.repeat(label, hop)[:n]
    if per_sample.size < n:
        per_sample = np.concatenate(
            [per_sample, np.full(n - per_sample.size, per_sample[-1] if per_sample.size else OTHER)]
        )
    # shift so each window centre labels the samples around it
    shift = hop // 2
    per_sample = (
        np.concatenate([per_sample[shift:], np.repeat(per_sample[-1:], shift)]) if shift and n > shift else per_sample
    )
    return _bridge_walking(_merge_short(per_sample.astype(np.int8), fs), fs)


def _bridge_walking(labels: np.ndarray, fs: float) -> np.ndarray:
    """Relabel short still / other bouts between two walking bouts as walking."""
    starts, ends, kinds = _runs(labels)
    if starts.size < 3:
        return labels
    inner = np.arange(1, starts.size - 1)
    gap = (
        np.isin(kinds[inner], (STILL, OTHER))
        & (kinds[inner - 1] == WALKING)
        & (kinds[inner + 1] == WALKING)
        & ((ends[inner] - starts[inner]) <= WALK_BRIDGE_S * fs)
    )
    out = labels.copy()
    for i in inner[gap]:  # few bouts per segment
        out[starts[i] : ends[i]] = WALKING
    return out


def _runs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    change = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [labels.size]])
    return starts, ends, labels[starts]


def _merge_short(labels: np.ndarray, fs: float) -> np.ndarray:
    """Merge bouts shorter than their kind's minimum into the longer neighbour (few bouts: loop)."""
    for _ in range(10):
        starts, ends, kinds = _runs(labels)
        if starts.size <= 1:
            return labels
        dur = (ends - starts) / fs
        short = np.array([dur[i] < MIN_BOUT_S[int(k)] for i, k in enumerate(kinds)])
        if not short.any():
            return labels
        i = int(np.flatnonzero(short)[np.argmin(dur[short])])  # shortest first
        left = i - 1 if i > 0 else None
        right = i + 1 if i + 1 < starts.size else None
        if left is None and right is None:
            return labels
        pick = left if right is None or (left is not None and dur[left] >= dur[right]) else right
        labels[starts[i] : ends[i]] = kinds[pick]
    return labels


def bout_labels(session: Session) -> np.ndarray:
    """Activity code (`KINDS` index) for every sample of ``session``.

    Parameters
    ----------
    session
        The session (any frame: only the magnitudes are used).

    Returns
    -------
    ndarray
        ``int8`` codes, one per sample.
    """
    check_session(session)
    acc = np.nan_to_num(session.acc)  # an absent axis counts as 0
    mag = np.sqrt(np.einsum("ij,ij->i", acc, acc))
    gmag = None if session.gyr is None else np.sqrt(np.einsum("ij,ij->i", session.gyr, session.gyr))
    out = np.empty(session.n_samples, dtype=np.int8)
    for seg in session.segments():
        out[seg] = _classify_segment(mag[seg], None if gmag is None else gmag[seg], session.sampling_rate_hz)
    return out


def detect_bouts(session: Session, labels: np.ndarray | None = None) -> pd.DataFrame:
    """Activity bouts of ``session``.

    Parameters
    ----------
    session
        The session.
    labels
        Its per-sample activity codes (`bout_labels`), if already computed.

    Returns
    -------
    DataFrame
        Columns ``bout``, ``kind`` (still / walking / running / other), ``start_s``, ``end_s``,
        ``duration_s``, ``start_idx``, ``end_idx`` (sample slice). Bouts never span a gap.
    """
    import pandas as pd

    check_session(session)
    if labels is None:
        labels = bout_labels(session)
    else:
        codes = check_signal(labels, "labels")
        check_same_length(session.n_samples, "session", labels=codes)
        if codes.size and not np.isin(codes, np.arange(len(KINDS))).all():
            raise GaitInputError(
                "unknown activity code",
                expected=f"integer codes 0 to {len(KINDS) - 1} ({', '.join(KINDS)})",
                found=f"{np.setdiff1d(codes, np.arange(len(KINDS)))[:5]}",
                where=Where(parameter="labels"),
            )
    rows = []
    period = 1.0 / session.sampling_rate_hz
    for seg in session.segments():
        starts, ends, kinds = _runs(labels[seg])
        for a, b, k in zip(starts + seg.start, ends + seg.start, kinds):
            rows.append((KINDS[int(k)], float(session.t[a]), float(session.t[b - 1] + period), int(a), int(b)))
    df = pd.DataFrame(rows, columns=["kind", "start_s", "end_s", "start_idx", "end_idx"])
    df.insert(0, "bout", np.arange(len(df)))
    df.insert(4, "duration_s", df["end_s"] - df["start_s"])
    return df
