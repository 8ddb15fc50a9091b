"""Every public stage function: an empty input, a tiny exact input, and its input checks.

One class per function (``test_empty``, ``test_basic``, ``test_exceptions``), after
scipy.signal's tests; the checks come from one module (`gait._checks`), so the messages match
across functions. Last, each function's numpydoc ``Parameters`` section names exactly the
parameters of its signature.
"""

from __future__ import annotations

import inspect
import re

import numpy as np
import pandas as pd
import pytest

from gait import GaitInputError
from gait.constants import G, V
from gait.core.activity import KINDS, STILL, bout_labels, detect_bouts
from gait.core.events import EVENT_COLUMNS, running_events, walking_ap_sign, walking_events
from gait.core.frames import level_frame, rotate, to_body_frame
from gait.core.metrics import MINUTE_COLUMNS, minute_table, run_summary, step_table
from gait.core.mounting import estimate_heading, estimate_mounting, rotation_from_axes
from gait.core.records import MinuteSignals
from gait.core.sides import assign_sides, side_cues
from gait.session import Session, SessionMetadata

FS = 200.0
BAD_RATES = [0.0, -100.0, float("nan"), float("inf")]
RATE_MSG = r"parameter 'sampling_rate_hz': sampling rate out of range; expected a sampling rate in Hz, finite and > 0"


def half_sine_run(seconds: float = 6.0, step_s: float = 0.36, contact_s: float = 0.24, first_ic_s: float = 0.1):
    """The spring-mass model's vertical specific force: half sines with a ballistic flight (0),
    the amplitude set so that the mean over a step is one body weight."""
    amp = G * step_s * np.pi / (2 * contact_s)
    t = np.arange(int(seconds * FS)) / FS
    ph = np.mod(t - first_ic_s, step_s)
    f = np.where((ph < contact_s) & (t >= first_ic_s), amp * np.sin(np.pi * ph / contact_s), 0.0)
    return t, f


def sinus_walk(seconds: float = 10.0, step_s: float = 0.55, first_ic_s: float = 0.2, fs: float = 100.0):
    """Vertical and forward acceleration of an idealised walk: the forward one peaks at each
    contact and falls through zero a quarter step later (Zijlstra & Hof 2003)."""
    t = np.arange(int(seconds * fs)) / fs
    ph = 2 * np.pi * (t - first_ic_s) / step_s
    return t, G + 2 * np.sin(ph), 2 * np.cos(ph)


def session(acc, *, frame="sensor", fs=100.0, gyr=None):
    acc = np.asarray(acc, float)
    return Session(t=np.arange(len(acc)) / fs, acc=acc, gyr=gyr, frame=frame, meta=SessionMetadata(sampling_rate_hz=fs))


def standing(seconds=10.0, fs=100.0, frame="sensor"):
    rng = np.random.default_rng(0)
    n = int(seconds * fs)
    return session(np.tile([0.0, 0.0, G], (n, 1)) + rng.normal(0, 0.02, (n, 3)), frame=frame, fs=fs)


def running_steps():
    """`running_events` on the half-sine run, with the columns `step_table` needs."""
    t, f = half_sine_run()
    ev = running_events(f, sampling_rate_hz=FS)
    ev["bout"] = 0
    ev["activity"] = "running"
    ev["side"] = np.where(np.arange(len(ev)) % 2 == 0, "L", "R")
    acc = np.column_stack([f, np.zeros_like(f), np.zeros_like(f)])
    zeros = np.zeros_like(f)
    kw = dict(
        t=t,
        sampling_rate_hz=FS,
        acc_level=acc,
        pitch=zeros,
        roll=zeros,
        yaw=zeros,
        lean_reference_rad=0.0,
        segment_id=np.zeros(t.size, np.int64),
    )
    return ev, kw


# ---------------------------------------------------------------------------------------
# events
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [running_events, walking_events])
class TestEventDetectors:
    def test_empty(self, fn):
        ev = fn(np.zeros(0), sampling_rate_hz=FS)
        assert ev.empty and list(ev.columns)[: len(EVENT_COLUMNS)] == EVENT_COLUMNS

    def test_exceptions(self, fn):
        x = np.full(400, G)
        with pytest.raises(
            GaitInputError,
            match=r"parameter 'f_v': not a 1-D signal; .*found an array of shape \(400, 3\)\. Pick one axis",
        ):
            fn(np.tile(x[:, None], (1, 3)), sampling_rate_hz=FS)
        for bad in BAD_RATES:
            with pytest.raises(GaitInputError, match=RATE_MSG):
                fn(x, sampling_rate_hz=bad)
        with pytest.raises(GaitInputError, match=r"parameter 'sampling_rate_hz': sampling rate is not a number"):
            fn(x, sampling_rate_hz="fast")
        with pytest.raises(
            GaitInputError,
            match=r"parameter 'acc_ap': length mismatch; expected 400 samples, as many as 'f_v', found 7",
        ):
            fn(x, sampling_rate_hz=FS, acc_ap=np.zeros(7))
        bad = x.copy()
        bad[[5, 9]] = np.nan
        with pytest.raises(
            GaitInputError,
            match=r"parameter 'f_v': non-finite values; .*found 2 NaN or infinite values, the first at sample 5",
        ):
            fn(bad, sampling_rate_hz=FS)
        with pytest.raises(GaitInputError, match=r"parameter 't0': not a finite number"):
            fn(x, sampling_rate_hz=FS, t0=float("nan"))
        with pytest.raises(TypeError):  # the rate is keyword-only
            fn(x, FS)


class TestRunningEvents:
    def test_basic(self):
        """The half-sine stance is the model the detector is exact for: contacts within 1 ms,
        contact time within 1 ms."""
        _, f = half_sine_run()
        ev = running_events(f, sampling_rate_hz=FS, t0=10.0)
        ok = ev[ev["ok"]]
        assert len(ok) == len(ev) == 16
        ic_true = 10.1 + 0.36 * np.round((ok["ic_s"].to_numpy() - 10.1) / 0.36)
        np.testing.assert_allclose(ok["ic_s"], ic_true, atol=1e-3)
        np.testing.assert_allclose(ok["to_s"] - ok["ic_s"], 0.24, atol=1e-3)


class TestWalkingEvents:
    def test_basic(self):
        _, f_v, ap = sinus_walk()
        ev = walking_events(f_v, sampling_rate_hz=100.0, acc_ap=ap)
        assert len(ev) == 18 and (ev["ap_sign"] == 1.0).all()
        np.testing.assert_allclose(np.mod(ev["ic_s"] - 0.2 + 0.1, 0.55) - 0.1, 0.0, atol=1e-9)
        assert not ev["to_measured"].any()


class TestWalkingApSign:
    def test_empty(self):
        assert walking_ap_sign(np.zeros(0), np.zeros(0), sampling_rate_hz=100.0) == 1.0

    def test_basic(self):
        _, f_v, ap = sinus_walk()
        assert walking_ap_sign(f_v - G, ap, sampling_rate_hz=100.0) == 1.0
        assert walking_ap_sign(f_v - G, -ap, sampling_rate_hz=100.0) == -1.0

    def test_exceptions(self):
        x = np.zeros(300)
        with pytest.raises(
            GaitInputError,
            match=r"parameter 'acc_ap': length mismatch; expected 300 samples, as many as 'acc_v', found 299",
        ):
            walking_ap_sign(x, x[1:], sampling_rate_hz=100.0)
        with pytest.raises(GaitInputError, match=r"parameter 'acc_v': not a 1-D signal"):
            walking_ap_sign(np.zeros((300, 3)), x, sampling_rate_hz=100.0)
        for bad in BAD_RATES:
            with pytest.raises(GaitInputError, match=RATE_MSG):
                walking_ap_sign(x, x, sampling_rate_hz=bad)


# ---------------------------------------------------------------------------------------
# sides
# ---------------------------------------------------------------------------------------
def alternating_roll(sides, step=100, contact=60):
    """Per-sample roll: each step's pelvis rolls toward its side through the stance."""
    ic = np.arange(len(sides)) * float(step)
    roll = np.zeros(len(sides) * step + step)
    for k, s in enumerate(sides):
        roll[int(ic[k]) : int(ic[k]) + contact] = (1 if s == "L" else -1) * 0.05 * np.linspace(0, 1, contact)
    return ic, ic + contact, roll


@pytest.mark.parametrize("fn", [assign_sides, side_cues])
class TestSides:
    def test_empty(self, fn):
        out = fn(np.zeros(0), np.zeros(0), np.zeros(0, int), roll_rad=None, acc_level_ml=None)
        if fn is assign_sides:
            assert out[0].size == 0 and out[1].size == 0
        else:
            assert out == {}

    def test_basic(self, fn):
        sides = ["L", "R"] * 5
        ic, to, roll = alternating_roll(sides)
        out = fn(ic, to, np.zeros(ic.size, int), roll_rad=roll, acc_level_ml=None)
        if fn is assign_sides:
            assert list(out[0]) == sides and np.all(out[1] == 1.0)
        else:
            sign = np.where(np.array(sides) == "L", 1.0, -1.0)
            np.testing.assert_allclose(out["drop"], sign * 0.05 * 24 / 59)
            np.testing.assert_allclose(out["rise"], sign * 0.05 * 30 / 59)

    def test_exceptions(self, fn):
        ic = np.arange(4.0) * 100
        bout = np.zeros(4, int)
        with pytest.raises(
            GaitInputError,
            match=r"parameter 'to_idx': length mismatch; expected 4 samples, as many as 'ic_idx', found 3",
        ):
            fn(ic, ic[:3] + 60, bout, roll_rad=None, acc_level_ml=None)
        with pytest.raises(GaitInputError, match=r"parameter 'bout': length mismatch"):
            fn(ic, ic + 60, bout[:2], roll_rad=None, acc_level_ml=None)
        with pytest.raises(GaitInputError, match=r"parameter 'walking': length mismatch"):
            fn(ic, ic + 60, bout, roll_rad=None, acc_level_ml=None, walking=np.zeros(5, bool))
        with pytest.raises(GaitInputError, match=r"parameter 'ic_idx': not a 1-D signal"):
            fn(ic[:, None], ic + 60, bout, roll_rad=None, acc_level_ml=None)
        with pytest.raises(GaitInputError, match=r"parameter 'roll_rad': not a 1-D signal"):
            fn(ic, ic + 60, bout, roll_rad=np.zeros((500, 3)), acc_level_ml=None)
        with pytest.raises(
            GaitInputError,
            match=r"parameter 'acc_level_ml': length mismatch; expected 500 samples, as many as 'roll_rad'",
        ):
            fn(ic, ic + 60, bout, roll_rad=np.zeros(500), acc_level_ml=np.zeros(499))


# ---------------------------------------------------------------------------------------
# frames
# ---------------------------------------------------------------------------------------
class TestRotate:
    def test_empty(self):
        assert rotate(np.zeros((0, 3)), np.zeros((0, 3))).shape == (0, 3)

    def test_basic(self):
        v = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
        np.testing.assert_allclose(rotate(v, np.array([0.0, 0.0, np.pi / 2])), [[0, 1, 0], [-1, 0, 0]], atol=1e-15)

    def test_exceptions(self):
        with pytest.raises(
            GaitInputError, match=r"parameter 'vectors': not an \(n, 3\) array; expected an array of shape \(n, 3\)"
        ):
            rotate(np.zeros(3), np.zeros(3))
        with pytest.raises(
            GaitInputError,
            match=r"parameter 'rotvec': length mismatch; expected 4 samples, as many as 'vectors', found 2",
        ):
            rotate(np.zeros((4, 3)), np.zeros((2, 3)))
        with pytest.raises(GaitInputError, match=r"parameter 'rotvec': not an \(n, 3\) array"):
            rotate(np.zeros((4, 3)), np.zeros((4, 2)))


class TestToBodyFrame:
    def test_empty(self):
        s = to_body_frame(session(np.zeros((0, 3))), np.eye(3))
        assert s.frame == "body" and s.acc.shape == (0, 3)

    def test_basic(self):
        s = standing(2.0)
        R = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # v = z, ap = x, ml = y
        body = to_body_frame(s, R)
        np.testing.assert_array_equal(body.acc, s.acc[:, [2, 0, 1]])

    def test_exceptions(self):
        with pytest.raises(
            GaitInputError, match=r"parameter 'rotation': not a 3 x 3 matrix; .*found an array of shape \(3,\)"
        ):
            to_body_frame(standing(1.0), np.ones(3))
        with pytest.raises(GaitInputError, match=r"parameter 'rotation': non-finite values"):
            to_body_frame(standing(1.0), np.full((3, 3), np.nan))
        with pytest.raises(GaitInputError, match=r"parameter 'session': not a session; .*found ndarray"):
            to_body_frame(np.zeros((10, 3)), np.eye(3))  # type: ignore[arg-type]


class TestLevelFrame:
    def test_empty(self):
        lv = level_frame(session(np.zeros((0, 3)), frame="body"))
        assert lv.acc.shape == (0, 3)

    def test_basic(self):
        s = session(np.tile([G, 0.0, 0.0], (1000, 1)), frame="body")
        lv = level_frame(s)
        np.testing.assert_allclose(lv.acc[:, V], G, atol=1e-9)
        np.testing.assert_allclose(lv.pitch, 0.0, atol=1e-12)
        np.testing.assert_allclose(lv.gravity, G, atol=1e-9)

    def test_exceptions(self):
        body = standing(2.0, frame="body")
        with pytest.raises(
            GaitInputError, match=r"parameter 'session': not a body-frame session; .*found frame 'sensor'"
        ):
            level_frame(standing(2.0))
        with pytest.raises(
            GaitInputError,
            match=r"parameter 'gravity_acc': length mismatch; expected 200 samples, as many as 'session'",
        ):
            level_frame(body, gravity_acc=np.zeros((10, 3)))
        with pytest.raises(GaitInputError, match=r"parameter 'gravity_acc': not an \(n, 3\) array"):
            level_frame(body, gravity_acc=np.zeros(200))
        for bad in (0.0, -9.8, float("nan")):
            with pytest.raises(GaitInputError, match=r"parameter 'gravity_mps2': out of range"):
                level_frame(body, gravity_mps2=bad)


# ---------------------------------------------------------------------------------------
# tables
# ---------------------------------------------------------------------------------------
class TestStepTable:
    def test_empty(self):
        _, kw = running_steps()
        assert step_table(pd.DataFrame(columns=["ic_idx", "to_idx"]), **kw).empty

    def test_basic(self):
        ev, kw = running_steps()
        steps = step_table(ev, **kw)
        valid = steps[steps["valid"]]
        assert len(valid) >= 14
        np.testing.assert_allclose(valid["contact_time_s"], 0.24, atol=1e-3)
        np.testing.assert_allclose(valid["cadence_spm"], 60 / 0.36, rtol=1e-3)
        np.testing.assert_allclose(valid["duty_factor"], 0.24 / 0.72, rtol=5e-3)

    def test_exceptions(self):
        ev, kw = running_steps()
        for bad in BAD_RATES:
            with pytest.raises(GaitInputError, match=RATE_MSG):
                step_table(ev, **{**kw, "sampling_rate_hz": bad})
        with pytest.raises(GaitInputError, match=r"parameter 'acc_level': not an \(n, 3\) array"):
            step_table(ev, **{**kw, "acc_level": kw["acc_level"][:, 0]})
        with pytest.raises(
            GaitInputError,
            match=r"parameter 'pitch': length mismatch; expected 1200 samples, as many as 't', found 1199",
        ):
            step_table(ev, **{**kw, "pitch": kw["pitch"][1:]})
        with pytest.raises(GaitInputError, match=r"parameter 'acc_level': length mismatch"):
            step_table(ev, **{**kw, "acc_level": kw["acc_level"][1:]})
        with pytest.raises(
            GaitInputError,
            match=r"parameter 'speed_mps': length mismatch; expected 16 samples, as many as 'events', found 3",
        ):
            step_table(ev, **{**kw, "speed_mps": np.ones(3)})
        with pytest.raises(GaitInputError, match=r"parameter 't': non-finite values"):
            step_table(ev, **{**kw, "t": np.full(1200, np.nan)})


class TestMinuteTable:
    def test_empty(self):
        ev, kw = running_steps()
        empty = minute_table(step_table(ev.iloc[:0], **kw))
        assert empty.empty and list(empty.columns) == MINUTE_COLUMNS

    def test_basic(self):
        ev, kw = running_steps()
        m = minute_table(step_table(ev, **kw))
        assert len(m) == 1 and m["minute"].iloc[0] == 0
        assert m["cadence_spm"].iloc[0] == pytest.approx(60 / 0.36, rel=1e-3)

    def test_exceptions(self):
        ev, kw = running_steps()
        steps = step_table(ev, **kw)
        ones = np.ones(1200, bool)
        with pytest.raises(GaitInputError, match=r"parameter 't': signals without their times"):
            minute_table(steps, signals=MinuteSignals(intensity=np.zeros(1200), running_mask=ones))
        with pytest.raises(
            GaitInputError, match=r"parameter \"signals\['ml'\]\": length mismatch; expected 1200 samples"
        ):
            minute_table(
                steps, signals=MinuteSignals(intensity=np.zeros(1200), running_mask=ones, ml=np.zeros(10)), t=kw["t"]
            )
        with pytest.raises(GaitInputError, match=r"parameter 'signals': signals of the wrong type"):
            minute_table(steps, signals={"intensity": np.zeros(1200)}, t=kw["t"])  # type: ignore[arg-type]


class TestRunSummary:
    bouts = pd.DataFrame({"kind": ["running"], "duration_s": [6.0]})

    def test_empty(self):
        ev, kw = running_steps()
        steps = step_table(ev.iloc[:0], **kw)
        s = run_summary(steps, minute_table(steps), self.bouts.iloc[:0])
        assert s["steps"] == 0 and s["duration_s"] == 0.0

    def test_basic(self):
        ev, kw = running_steps()
        steps = step_table(ev, **kw)
        s = run_summary(steps, minute_table(steps), self.bouts)
        assert s["running_s"] == 6.0 and s["running_steps"] == steps["valid"].sum()
        assert s["median"]["cadence_spm"] == pytest.approx(60 / 0.36, rel=1e-3)

    def test_exceptions(self):
        ev, kw = running_steps()
        steps = step_table(ev, **kw)
        with pytest.raises(GaitInputError, match=r"parameter 'metrics': unknown step metric; .*found 'cadence'"):
            run_summary(steps, minute_table(steps), self.bouts, metrics=["cadence"])


# ---------------------------------------------------------------------------------------
# activity
# ---------------------------------------------------------------------------------------
class TestBoutLabels:
    def test_empty(self):
        assert bout_labels(session(np.zeros((0, 3)))).size == 0

    def test_basic(self):
        assert (bout_labels(standing()) == STILL).all()

    def test_exceptions(self):
        with pytest.raises(GaitInputError, match=r"parameter 'session': not a session"):
            bout_labels(np.zeros((100, 3)))  # type: ignore[arg-type]


class TestDetectBouts:
    def test_empty(self):
        assert detect_bouts(session(np.zeros((0, 3)))).empty

    def test_basic(self):
        b = detect_bouts(standing())
        assert list(b["kind"]) == ["still"] and b["duration_s"].iloc[0] == pytest.approx(10.0)

    def test_exceptions(self):
        s = standing()
        with pytest.raises(
            GaitInputError,
            match=r"parameter 'labels': length mismatch; expected 1000 samples, as many as 'session', found 10",
        ):
            detect_bouts(s, np.zeros(10, np.int8))
        with pytest.raises(GaitInputError, match=r"parameter 'labels': not a 1-D signal"):
            detect_bouts(s, np.zeros((1000, 2), np.int8))
        with pytest.raises(
            GaitInputError,
            match=rf"parameter 'labels': unknown activity code; expected integer codes 0 to {len(KINDS) - 1}",
        ):
            detect_bouts(s, np.full(1000, 7, np.int8))


# ---------------------------------------------------------------------------------------
# mounting
# ---------------------------------------------------------------------------------------
def masks(n, still=True):
    z = np.zeros(n, bool)
    return {"still": ~z if still else z, "running": z, "walking": z}


class TestEstimateMounting:
    def test_empty(self):
        with pytest.raises(GaitInputError, match=r"parameter 'acc': no samples"):
            estimate_mounting(np.zeros((0, 3)), sampling_rate_hz=100.0, **masks(0))

    def test_basic(self):
        """Standing only: the vertical is the mean specific force, forward is unknown."""
        s = standing()
        est = estimate_mounting(s.acc, sampling_rate_hz=100.0, **masks(s.n_samples))
        assert est.vertical_source == "standing" and est.forward_source == "none"
        np.testing.assert_allclose(est.rotation[0], [0, 0, 1], atol=1e-3)

    def test_exceptions(self):
        acc = standing().acc
        m = masks(1000)
        for bad in BAD_RATES:
            with pytest.raises(GaitInputError, match=RATE_MSG):
                estimate_mounting(acc, sampling_rate_hz=bad, **m)
        with pytest.raises(GaitInputError, match=r"parameter 'acc': not an \(n, 3\) array"):
            estimate_mounting(acc[:, 0], sampling_rate_hz=100.0, **m)
        with pytest.raises(
            GaitInputError,
            match=r"parameter 'still': length mismatch; expected 1000 samples, as many as 'acc', found 999",
        ):
            estimate_mounting(acc, sampling_rate_hz=100.0, **{**m, "still": m["still"][1:]})
        with pytest.raises(GaitInputError, match=r"parameter 'running': not a boolean mask; .*dtype float64"):
            estimate_mounting(acc, sampling_rate_hz=100.0, **{**m, "running": np.zeros(1000)})
        with pytest.raises(GaitInputError, match=r"parameter 'gyr': length mismatch"):
            estimate_mounting(acc, sampling_rate_hz=100.0, gyr=np.zeros((10, 3)), **m)


class TestEstimateHeading:
    def test_empty(self):
        acc = standing().acc
        assert (
            estimate_heading(
                acc,
                sampling_rate_hz=100.0,
                up=np.array([0, 0, 1.0]),
                running=masks(1000)["running"],
                walking=masks(1000)["walking"],
            )
            is None
        )

    def test_basic(self):
        """A walk whose forward axis is the sensor's y: the heading is +y, horizontal."""
        _, f_v, ap = sinus_walk(seconds=20.0)
        acc = np.column_stack([np.zeros_like(f_v), ap, f_v])
        walking = np.ones(f_v.size, bool)
        h = estimate_heading(acc, sampling_rate_hz=100.0, up=np.array([0, 0, 1.0]), running=~walking, walking=walking)
        assert h is not None
        np.testing.assert_allclose(h.forward, [0, 1, 0], atol=1e-6)

    def test_exceptions(self):
        acc = standing().acc
        m = masks(1000)
        kw = dict(running=m["running"], walking=m["walking"])
        with pytest.raises(
            GaitInputError, match=r"parameter 'up': not a direction; expected a finite 3-vector of length > 0"
        ):
            estimate_heading(acc, sampling_rate_hz=100.0, up=np.zeros(3), **kw)
        for bad in BAD_RATES:
            with pytest.raises(GaitInputError, match=RATE_MSG):
                estimate_heading(acc, sampling_rate_hz=bad, up=np.array([0, 0, 1.0]), **kw)
        with pytest.raises(GaitInputError, match=r"parameter 'walking': length mismatch"):
            estimate_heading(
                acc, sampling_rate_hz=100.0, up=np.array([0, 0, 1.0]), running=m["running"], walking=m["walking"][:5]
            )


class TestRotationFromAxes:
    def test_basic(self):
        R = rotation_from_axes(np.array([0.0, 0.0, 2.0]), np.array([1.0, 0.0, 0.5]))
        np.testing.assert_allclose(R, [[0, 0, 1], [1, 0, 0], [0, 1, 0]], atol=1e-15)

    def test_exceptions(self):
        with pytest.raises(GaitInputError, match=r"parameter 'up': not a direction"):
            rotation_from_axes(np.zeros(3), np.array([1.0, 0.0, 0.0]))
        with pytest.raises(GaitInputError, match=r"parameter 'forward': not a direction"):
            rotation_from_axes(np.array([0.0, 0.0, 1.0]), np.array([1.0, np.nan, 0.0]))
        with pytest.raises(GaitInputError, match=r"parameter 'forward': degenerate axes"):
            rotation_from_axes(np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.0, 3.0]))


# ---------------------------------------------------------------------------------------
# docstrings
# ---------------------------------------------------------------------------------------
STAGES = [
    running_events,
    walking_events,
    walking_ap_sign,
    assign_sides,
    side_cues,
    rotate,
    to_body_frame,
    level_frame,
    step_table,
    minute_table,
    run_summary,
    bout_labels,
    detect_bouts,
    estimate_mounting,
    estimate_heading,
    rotation_from_axes,
]


def documented_parameters(fn) -> list[str]:
    """Names in the numpydoc ``Parameters`` section (``a, b`` lines name several); a docstring
    that says its parameters "are those of `other`" documents ``other``'s."""
    doc = inspect.getdoc(fn) or ""
    ref = re.search(r"Parameters are those of `(\w+)`", doc)
    if ref:
        return documented_parameters(getattr(inspect.getmodule(fn), ref.group(1)))
    m = re.search(r"^Parameters\n-{3,}\n(.*?)(?=^\w[\w ]*\n-{3,}\n|\Z)", doc, re.S | re.M)
    assert m, f"{fn.__module__}.{fn.__name__} has no Parameters section"
    names: list[str] = []
    for line in m.group(1).splitlines():
        if line and not line[0].isspace():
            names += [n.strip().split(" :")[0].strip() for n in line.split(",")]
    return names


@pytest.mark.parametrize("fn", STAGES, ids=lambda f: f.__name__)
def test_parameters_section_names_the_signature(fn):
    assert documented_parameters(fn) == list(inspect.signature(fn).parameters)


@pytest.mark.parametrize("fn", STAGES, ids=lambda f: f.__name__)
def test_sampling_rate_is_keyword_only(fn):
    p = inspect.signature(fn).parameters.get("sampling_rate_hz")
    assert p is None or p.kind is inspect.Parameter.KEYWORD_ONLY
