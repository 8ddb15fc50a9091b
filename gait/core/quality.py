"""Signal quality: clipped, saturated or low-pass-filtered input, found in the data itself.

A recording can reach the product damaged in ways its header does not say: a sensor whose
range is too small for running saturates at every landing (flat tops at the range limit), a
pre-processed data set has its flight phases set to a floor value (runs of identical values
at a bound), a device or an export low-passes the signal (the spectrum ends long before the
sampling rate allows). Each damage removes part of the signal, and with it the metrics that
need that part. `assess_signal` finds them; `consequences` says, metric by metric, what
becomes unavailable and what is shown with a caveat; `bridge_clipped` fills the clipped runs
for the one use that needs a complete signal, the gravity estimate.

Detection
---------
*Clipping.* On each channel as recorded, the samples exactly at the channel's smallest and
largest value. A bound is clipped when at least `CLIP_MIN_SHARE` of the samples (and at least
`CLIP_MIN_SAMPLES`) sit exactly on it, in at least `CLIP_MIN_RUNS` runs of two or more, and
the bound holds at least `CLIP_SPIKE` times more samples than the band just inside it (0.25 % of
the channel's range): a genuine signal spends about as long just inside its extreme as on it,
a clipped one piles up on the bound. Channels with fewer than 50 distinct values (coarse
quantisation, a still sensor) are not judged, and samples at which every channel holds its
value do not count (a clipped channel is flat while the others move; all channels flat is a
frozen stream, or the exact free fall of noise-free synthetic data).

*Low-pass filtering.* Declared (``extra["lowpass_hz"]``, or a note such as "low-passed at
20 Hz") or detected: every sensor has a noise floor, so the power spectrum of a raw
accelerometer channel never falls below about 1e-8 of its peak (measured: 5e-8 to 5e-3 on
the real raw recordings and the simulator); a filtered channel falls to the rounding floor
(1e-14 on the Alcantara recordings). The top of the band (70-95 % of the Nyquist frequency)
below `FLOOR_RATIO` of the peak on every unclipped accelerometer channel means filtered; the
highest frequency still above 1e-6 of the peak is reported as where the content ends.

Consequences (`consequences`)
------------------------------
The impact transient of a rearfoot strike needs content up to `IMPACT_MIN_HZ`: low-passing the
simulator at 40 Hz lowers the impact peak by 12 % and the loading rate by 18 %, at 20 Hz by
40 % and 85 %, at 50 Hz by at most 5 % and 9 %. The foot-strike class survives 20 Hz on the
simulator (same share of rearfoot strikes) but not 15 Hz; contact time reads 9-11 ms long at
20 Hz. A vertical channel clipped at its low bound loses the flight-phase level (the loading
rate starts from it); clipped at its high bound it loses the stance peak (impact, loading
rate, and the oscillation integrated from it). A clipped antero-posterior channel loses the
braking peak; a clipped gyroscope loses the orientation and every trunk angle. A vertical
floor above free fall (more than `FREE_FALL_MARGIN_G`) also cuts part of every flight, and the
oscillation integrated through it reads 3-8 mm off on the simulator at a 0.3 g floor.

Gravity
-------
The vertical acceleration is the vertical specific force minus gravity, and gravity is the
signal's slowly varying mean; a clipped signal's mean is biased by what was cut. The analysis
takes gravity from the unclipped part: a standing period without clipped samples (1 s or more)
gives it outright; without one, the clipped runs are bridged (`bridge_clipped`, a vertical
channel clipped from below kept above free fall). On the simulator with the vertical floored at
0.3 g the clipped mean reads 10.20-10.50 m/s^2 and the estimate from standing 9.806 (truth
9.807), the bridged one (standing cut off) 9.85; saturated at 2 g, 9.62-9.85 and 9.806.

Notes
-----
Clipping detection by counting samples at the extremes is standard in audio and in
accelerometry quality control (e.g. the "clipping" flags of wearable-activity pipelines);
the spike test against the adjacent band and the spectral-floor test for pre-filtered data
are this project's. The thresholds were set on the simulator and the real recordings named
above; ``tests/test_signal_quality.py`` checks them on both.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..constants import AP, ML, RAD_PER_DEG, G, V
from ..session import Session
from ._clipping import (
    CLIP_MIN_RUNS,
    CLIP_MIN_SAMPLES,
    CLIP_MIN_SHARE,
    FLOOR_RATIO,
    ClippedChannel,
    bridge_clipped,
    clip_masks,
)

__all__ = [
    "CLIP_MIN_RUNS",
    "CLIP_MIN_SAMPLES",
    "CLIP_MIN_SHARE",
    "IMPACT_MIN_HZ",
    "Bandwidth",
    "ClippedChannel",
    "SignalQuality",
    "assess_signal",
    "body_axis",
    "bridge_clipped",
    "clip_masks",
    "consequences",
    "declared_lowpass_hz",
]

#: the impact transient needs content up to this frequency (simulator: <= 5 % loss at 50 Hz)
IMPACT_MIN_HZ = 50.0
#: below this cut-off, contact time reads long and the foot-strike class is at risk
TIMING_MIN_HZ = 30.0
#: a vertical channel clipped this far above free fall (g) loses part of every flight
FREE_FALL_MARGIN_G = 0.1


@dataclass(frozen=True)
class Bandwidth:
    """How much of the frequency band the accelerometer signal uses.

    Attributes
    ----------
    sampling_rate_hz
        The recording's rate.
    declared_lowpass_hz
        A low-pass cut-off the recording declares (metadata or notes), else ``None``.
    filtered
        A low-pass filter was declared or detected (no noise floor at the top of the band).
    content_edge_hz
        The highest frequency whose power is above 1e-6 of the spectrum's peak (the largest
        over the accelerometer channels); ``None`` when it was not measured.
    floor_ratio
        Power at the top of the band (70-95 % of Nyquist) over the peak, the largest over the
        unclipped accelerometer channels.
    """

    sampling_rate_hz: float
    declared_lowpass_hz: float | None = None
    filtered: bool = False
    content_edge_hz: float | None = None
    floor_ratio: float | None = None

    @property
    def effective_hz(self) -> float:
        """The band the metrics can rely on: the declared cut-off, else Nyquist (or the
        content edge when a filter was detected but not declared)."""
        if self.declared_lowpass_hz is not None:
            return float(self.declared_lowpass_hz)
        if self.filtered and self.content_edge_hz is not None:
            return float(self.content_edge_hz)
        return self.sampling_rate_hz / 2.0

    def describe(self) -> str:
        if self.declared_lowpass_hz is not None:
            return f"low-pass filtered at {self.declared_lowpass_hz:g} Hz (declared by the recording)"
        if self.filtered:
            edge = f"; nothing above about {self.content_edge_hz:.0f} Hz" if self.content_edge_hz else ""
            return f"low-pass filtered before it reached the product (the spectrum has no noise floor{edge})"
        return "full band"

    def to_dict(self) -> dict[str, Any]:
        return {
            "sampling_rate_hz": float(self.sampling_rate_hz),
            "declared_lowpass_hz": self.declared_lowpass_hz,
            "filtered": bool(self.filtered),
            "content_edge_hz": None if self.content_edge_hz is None else round(float(self.content_edge_hz), 1),
            "floor_ratio": None if self.floor_ratio is None else float(f"{self.floor_ratio:.3g}"),
        }


@dataclass(frozen=True)
class SignalQuality:
    """What `gait.analyze` found about the input signal (``Analysis.quality``).

    Attributes
    ----------
    clipped
        Channels held at a bound.
    bandwidth
        Declared or detected low-pass filtering.
    gravity_mps2
        The gravity the analysis used (median over the recording, m/s^2).
    gravity_unbridged_mps2
        The mean specific force of the clipped signal as recorded, the biased value the
        analysis did not use (``None`` when nothing was clipped).
    gravity_source
        ``"recorded"`` (nothing clipped: the slowly varying mean of the signal), ``"still"``
        (clipped running: the mean while standing still, unclipped) or ``"bridged"`` (no
        unclipped standing: the clipped runs bridged, `bridge_clipped`).
    flagged
        Metric -> caveat: shown, but affected by the damage (see `consequences`).
    """

    clipped: tuple[ClippedChannel, ...] = ()
    bandwidth: Bandwidth = field(default_factory=lambda: Bandwidth(float("nan")))
    gravity_mps2: float | None = None
    gravity_unbridged_mps2: float | None = None
    gravity_source: str = "recorded"
    flagged: dict[str, str] = field(default_factory=dict)
    gyro_constant: bool = False

    @property
    def ok(self) -> bool:
        """Nothing clipped, nothing filtered and no dead gyroscope."""
        return not self.clipped and not self.bandwidth.filtered and not self.gyro_constant

    def lines(self) -> list[str]:
        """One sentence per finding, for the terminal and the reports."""
        out = [c.describe() for c in self.clipped]
        if self.gyro_constant:
            out.append(
                "the gyroscope reads one constant value on every axis throughout (switched off or broken): "
                "the recording is analysed as one without a gyroscope"
            )
        if self.bandwidth.filtered:
            out.append(self.bandwidth.describe())
        unchanged = (
            self.gravity_source == "bridged"
            and self.gravity_unbridged_mps2 is not None
            and self.gravity_mps2 is not None
            and abs(self.gravity_unbridged_mps2 - self.gravity_mps2) < 0.01
        )
        if unchanged:
            out.append(
                "the vertical signal was clipped at the free-fall level and there is no unclipped standing: "
                "what was cut below it cannot be recovered, so gravity (the signal's mean) may read slightly high"
            )
        elif self.gravity_unbridged_mps2 is not None and self.gravity_mps2 is not None:
            how = {
                "still": "from standing still, where nothing was clipped",
                "bridged": "with the clipped runs bridged from the samples on either side",
            }.get(self.gravity_source, "as recorded")
            out.append(
                f"gravity estimated {how}: {self.gravity_mps2:.2f} m/s^2 "
                f"(the clipped signal's mean reads {self.gravity_unbridged_mps2:.2f})"
            )
        if self.gravity_mps2 is not None and abs(self.gravity_mps2 / G - 1.0) > 0.05:
            out.append(
                f"the accelerometer reads gravity as {self.gravity_mps2 / G:.2f} g: its scale or offset is off, "
                "so accelerations in m/s^2 carry that error (calibrate the accelerometer: gait calibrate accel)"
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "clipped": [c.to_dict() for c in self.clipped],
            "bandwidth": self.bandwidth.to_dict(),
            "gravity_mps2": None if self.gravity_mps2 is None else round(float(self.gravity_mps2), 4),
            "gravity_unbridged_mps2": None
            if self.gravity_unbridged_mps2 is None
            else round(float(self.gravity_unbridged_mps2), 4),
            "gravity_source": self.gravity_source,
            "flagged": dict(self.flagged),
            "gyro_constant": self.gyro_constant,
            "summary": self.lines(),
        }


def declared_lowpass_hz(meta: Any) -> float | None:
    """Cut-off of a low-pass filter the recording declares: ``extra["lowpass_hz"]``, or a note
    such as "low-passed at 20 Hz" (readers of pre-processed datasets say so)."""
    v = (getattr(meta, "extra", None) or {}).get("lowpass_hz")
    if v is not None:
        try:
            return float(v)
        except (TypeError, ValueError):
            return None
    m = re.search(
        r"low[- ]?pass(?:ed)?(?: filtered)?\s*(?:at|:)?\s*(\d+(?:\.\d+)?)\s*hz", getattr(meta, "notes", "") or "", re.I
    )
    return float(m.group(1)) if m else None


# ---------------------------------------------------------------------------------------
# bandwidth
# ---------------------------------------------------------------------------------------
#: the spectrum is averaged over at most this many 2-second pieces, spread over the recording
_SPECTRUM_PIECES = 64


def _spectrum(x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Welch-style power spectrum (Hann window, pieces of 2 s with their mean removed),
    averaged over at most `_SPECTRUM_PIECES` pieces spread over ``x``; vectorised."""
    m = int(min(x.size, 2 * fs))
    starts = np.unique(np.linspace(0, x.size - m, min(_SPECTRUM_PIECES, max(x.size // m, 1))).astype(int))
    seg = x[starts[:, None] + np.arange(m)[None, :]]
    seg = seg - seg.mean(axis=1, keepdims=True)
    w = np.hanning(m)
    p = np.mean(np.abs(np.fft.rfft(seg * w, axis=1)) ** 2, axis=0) / (fs * np.sum(w * w))
    return np.fft.rfftfreq(m, 1.0 / fs), p


def _bandwidth(session: Session, clipped: set[str]) -> Bandwidth:
    fs = session.sampling_rate_hz
    declared = declared_lowpass_hz(session.meta)
    floors, edges = [], []
    for k, axis in enumerate(session.axes):
        x = np.asarray(session.acc[:, k], dtype=float)
        x = x[np.isfinite(x)]
        if x.size < 4 * fs or f"acc_{axis}" in clipped:
            continue
        f, p = _spectrum(x, fs)
        peak = float(p.max())
        if peak <= 0:
            continue
        top = (f >= 0.7 * fs / 2) & (f <= 0.95 * fs / 2)
        if top.any():
            floors.append(float(np.median(p[top])) / peak)
        above = f[p > 1e-6 * peak]
        if above.size:
            edges.append(float(above.max()))
    floor = max(floors) if floors else None
    detected = floor is not None and floor < FLOOR_RATIO
    return Bandwidth(
        sampling_rate_hz=fs,
        declared_lowpass_hz=declared,
        filtered=bool(detected or (declared is not None and declared < 0.45 * fs)),
        content_edge_hz=max(edges) if edges else None,
        floor_ratio=floor,
    )


def constant_gyroscope(session: Session) -> bool:
    """Whether the session has a gyroscope that never changes on any axis while the
    accelerometer moves (all zeros, or a stuck value): a sensor that is off or broken, whose
    zero rates would read as a perfectly still trunk."""
    if session.gyr is None or session.n_samples < 2:
        return False
    g = session.gyr
    if (g[: min(g.shape[0], 256)] != g[0]).any():  # a working gyroscope moves within a second
        return False
    still_gyr = bool((g == g[0]).all())
    return still_gyr and bool(np.any(np.ptp(session.acc, axis=0) > 0.0))


def assess_signal(session: Session) -> tuple[SignalQuality, dict[str, np.ndarray]]:
    """Clipping and filtering of a session's channels as recorded (before any rotation).

    Returns
    -------
    SignalQuality
        Without the gravity figures (the analysis adds them) and without the flags
        (`consequences` computes them once the mounting is known).
    dict
        The clipped samples per channel (``"acc_x"`` ...), for `bridge_clipped`.
    """
    masks, found = clip_masks(session)
    bw = _bandwidth(session, {c.name for c in found if c.sensor == "acc"})
    return SignalQuality(clipped=found, bandwidth=bw), masks


# ---------------------------------------------------------------------------------------
# what it does to the metrics
# ---------------------------------------------------------------------------------------
def body_axis(c: ClippedChannel, rotation: np.ndarray | None) -> tuple[int | None, str]:
    """The body axis a clipped channel mostly measures, and which side of it was lost."""
    if c.axis in ("v", "ap", "ml"):
        return {"v": V, "ap": AP, "ml": ML}[c.axis], c.side
    if rotation is None:
        return None, c.side
    col = np.asarray(rotation)[:, "xyz".index(c.axis)]  # body axes' components on this sensor axis
    k = int(np.argmax(np.abs(col)))
    if abs(col[k]) < math.cos(60 * RAD_PER_DEG):
        return None, c.side
    side = c.side if col[k] > 0 else ("high" if c.side == "low" else "low")
    return k, side


def consequences(quality: SignalQuality, *, rotation: np.ndarray | None) -> tuple[dict[str, str], dict[str, str]]:
    """Metrics made unavailable, and metrics shown with a caveat, by clipping and filtering.

    Parameters
    ----------
    quality
        From `assess_signal`.
    rotation
        The mounting (rows: body axes in sensor coordinates), to map a clipped sensor axis to
        the body axis it mostly measures; ``None`` for a body-frame recording.

    Returns
    -------
    unavailable, flagged
        Metric -> reason.
    """
    unav: dict[str, str] = {}
    flag: dict[str, str] = {}

    def off(keys: tuple[str, ...], why: str) -> None:
        for k in keys:
            unav.setdefault(k, why)

    def warn(keys: tuple[str, ...], why: str) -> None:
        for k in keys:
            if k not in unav:
                flag.setdefault(k, why)

    redo = "record with a wider sensor range (at least +-8 g for running) and no filtering or floor clipping"
    for c in quality.clipped:
        what = c.describe()
        if c.sensor == "gyr":
            off(
                ("yaw_range_deg", "roll_range_deg", "pelvic_drop_deg"),
                f"the gyroscope saturated ({what}): the trunk's rotation is lost; {redo}",
            )
            warn(("lean_deg", "lateral_lean_deg"), f"the gyroscope saturated ({c.name}): the tilt may be off")
            continue
        axis, side = body_axis(c, rotation)
        if axis is None:
            off(
                ("impact_peak_mps2", "loading_rate_mps3", "braking_peak_mps2", "braking_velocity_loss_mps"),
                f"an accelerometer channel was clipped ({what}) and the mounting mixes it into several body axes; {redo}",
            )
            warn(("vertical_oscillation_m", "contact_time_s"), f"an accelerometer channel was clipped ({c.name})")
        elif axis == V and side == "low":
            off(
                ("loading_rate_mps3",),
                f"the vertical signal was clipped in flight ({what}): the flight level the loading rate rises from is lost; {redo}",
            )
            if c.bound > FREE_FALL_MARGIN_G * G:
                off(
                    ("vertical_oscillation_m", "vertical_ratio_pct"),
                    f"the vertical signal was clipped above free fall ({what}): the oscillation is integrated from "
                    "it and the lost flight shifts it (3-8 mm on the simulator at a 0.3 g floor); " + redo,
                )
            warn(
                ("impact_peak_mps2", "vertical_oscillation_m"),
                f"the vertical signal was clipped in flight ({c.name}): they are measured from a gravity "
                "estimated without the lost part (see the gravity note)",
            )
        elif axis == V:
            off(
                ("impact_peak_mps2", "loading_rate_mps3", "vertical_oscillation_m", "vertical_ratio_pct"),
                f"the vertical signal saturated in stance ({what}): the peak and the area under it are lost; {redo}",
            )
            warn(("foot_strike", "contact_time_s"), f"the vertical signal saturated in stance ({c.name})")
        elif axis == AP:
            off(
                ("braking_peak_mps2", "braking_velocity_loss_mps"),
                f"the forward signal was clipped ({what}): the braking peak is lost; {redo}",
            )
        else:
            warn(("lateral_lean_deg",), f"the medio-lateral signal was clipped ({c.name})")
    bw = quality.bandwidth
    if bw.filtered:
        cut = bw.effective_hz
        if cut < IMPACT_MIN_HZ:
            off(
                ("impact_peak_mps2", "loading_rate_mps3"),
                f"the recording was {bw.describe()}: the impact transient needs content up to {IMPACT_MIN_HZ:g} Hz, "
                "so the impact peak and the loading rate would read low; record unfiltered data at 100 Hz or more",
            )
        if cut < TIMING_MIN_HZ:
            warn(
                ("foot_strike", "rearfoot_score", "contact_time_s"),
                f"the recording was {bw.describe()}: the landing transient is smoothed "
                "(on the simulator a 20 Hz low-pass lengthens contact time by about 10 ms)",
            )
        elif cut < IMPACT_MIN_HZ:
            warn(
                ("foot_strike", "rearfoot_score"),
                f"the recording was {bw.describe()}: the landing transient is smoothed",
            )
    return unav, {k: v for k, v in flag.items() if k not in unav}
