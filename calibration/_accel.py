"""Accelerometer calibration from still poses: bias, scale and axis misalignment."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from gait.constants import DEG_PER_RAD, SENSOR_AXES, G
from gait.errors import GaitInputError, Where, check_choice, check_positive
from gait.session import Session

from ._align import MAX_ALIGNMENT_RESIDUAL_DEG, MAX_ALIGNMENT_RESIDUAL_DEG_BIAS_SCALE, align_to_gyroscope
from ._still import describe_where, find_still_segments, require_sensor_frame
from ._types import AccelCalibration, utc_now

__all__ = ["MODELS", "calibrate_accelerometer", "count_distinct_poses", "fit_accelerometer"]

#: Accelerometer models: ``"auto"`` picks ``"full"`` when the poses determine it.
MODELS = ("auto", "bias_scale", "full")
#: Distinct poses needed for each model.
MIN_POSES = {"bias_scale": 6, "full": 9}
#: The full model needs its (scaled) Jacobian no worse conditioned than this.
MAX_CONDITION_FULL = 200.0
#: Largest acceptable noise gain of the bias (bias standard error / pose standard error):
#: above it the poses are too bunched together to pin the calibration down.
MAX_NOISE_GAIN = 4.0
#: Each axis must read beyond -AXIS_COVERAGE g and +AXIS_COVERAGE g in some pose.
AXIS_COVERAGE = 0.3

_POSE_HINT = (
    "Lay the sensor still on each of its six faces in turn (x, y and z axis up, then down), "
    "2-3 s each; add six poses resting on an edge (about 45 degrees) to also estimate misalignment"
)


def count_distinct_poses(means_mps2: np.ndarray, *, min_separation_deg: float = 20.0) -> int:
    """Number of distinct orientations among still-segment mean readings.

    Readings less than ``min_separation_deg`` apart in direction are the same pose (greedy
    clustering in time order).
    """
    v = np.asarray(means_mps2, dtype=float).reshape(-1, 3)
    if v.shape[0] == 0:
        return 0
    u = v / np.linalg.norm(v, axis=1, keepdims=True)
    cos_min = math.cos(min_separation_deg / DEG_PER_RAD)
    centres: list[np.ndarray] = []
    for x in u:  # loop over segments (a few dozen at most)
        if not centres or np.max(np.asarray(centres) @ x) < cos_min:
            centres.append(x)
    return len(centres)


def _unpack(p: np.ndarray, model: str) -> tuple[np.ndarray, np.ndarray]:
    b = p[:3]
    if model == "bias_scale":
        return b, np.diag(p[3:6])
    c = np.array([[p[3], p[6], p[7]], [p[6], p[4], p[8]], [p[7], p[8], p[5]]])
    return b, c


def _residuals(p: np.ndarray, a: np.ndarray, model: str, g: float) -> np.ndarray:
    b, c = _unpack(p, model)
    return np.linalg.norm((a - b) @ c.T, axis=1) - g


def _jacobian(p: np.ndarray, a: np.ndarray, model: str, g: float) -> np.ndarray:
    b, c = _unpack(p, model)
    d = a - b
    y = d @ c.T  # corrected readings
    ny = np.linalg.norm(y, axis=1, keepdims=True)
    e = y / ny  # unit directions
    jb = -(e @ c)  # d|C(a-b)|/db
    if model == "bias_scale":
        jc = e * d  # d/dc_ii = e_i d_i
    else:
        jc = np.column_stack(
            [
                e[:, 0] * d[:, 0],
                e[:, 1] * d[:, 1],
                e[:, 2] * d[:, 2],
                e[:, 0] * d[:, 1] + e[:, 1] * d[:, 0],
                e[:, 0] * d[:, 2] + e[:, 2] * d[:, 0],
                e[:, 1] * d[:, 2] + e[:, 2] * d[:, 1],
            ]
        )
    return np.column_stack([jb, jc])


def _scaled_condition(p: np.ndarray, a: np.ndarray, model: str, g: float) -> float:
    j = _jacobian(p, a, model, g)
    j[:, 3:] /= g  # bias in m/s^2, matrix entries per g: columns of comparable size
    s = np.linalg.svd(j, compute_uv=False)
    return float(s[0] / s[-1]) if s[-1] > 0 else math.inf


def _scale_of(p: np.ndarray, model: str) -> np.ndarray:
    _, c = _unpack(p, model)
    return np.linalg.norm(np.linalg.inv(c), axis=1)


def _uncertainty(
    p: np.ndarray, a: np.ndarray, model: str, g: float, pose_std: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """Standard errors of bias and scale, and the bias noise gain, by linear propagation."""
    j = _jacobian(p, a, model, g)
    jtj_inv = np.linalg.pinv(j.T @ j)
    gain = float(np.sqrt(np.max(np.diag(jtj_inv)[:3])))
    cov = jtj_inv @ (j.T * pose_std**2) @ j @ jtj_inv  # sandwich: heteroscedastic pose noise
    h = 1e-7
    ds = np.column_stack(
        [(_scale_of(p + h * e, model) - _scale_of(p - h * e, model)) / (2 * h) for e in np.eye(p.size)]
    )
    bias_std = np.sqrt(np.clip(np.diag(cov)[:3], 0.0, None))
    scale_std = np.sqrt(np.clip(np.diag(ds @ cov @ ds.T), 0.0, None))
    return bias_std, scale_std, gain


def _fit(a: np.ndarray, model: str, g: float, p0: np.ndarray) -> np.ndarray:
    from scipy.optimize import least_squares

    res = least_squares(
        _residuals, p0, jac=_jacobian, args=(a, model, g), method="lm", xtol=1e-14, ftol=1e-14, gtol=1e-14
    )
    return np.asarray(res.x, dtype=float)


def fit_accelerometer(
    means_mps2: np.ndarray,
    *,
    model: str = "auto",
    gravity_mps2: float = G,
    min_separation_deg: float = 20.0,
    max_residual_mps2: float = 0.1,
    pose_std_mps2: float | np.ndarray | None = None,
    source: str | None = None,
    where: Where | None = None,
) -> AccelCalibration:
    """Fit bias, scale and (optionally) misalignment to mean readings of still poses.

    Solves ``min sum_k (|C (a_k - b)| - g)^2`` by Levenberg-Marquardt with an analytic
    Jacobian, over ``b`` (3 biases) and either a diagonal ``C`` (``"bias_scale"``, 6
    parameters) or a symmetric ``C`` (``"full"``, 9 parameters: also the axis misalignment).

    Parameters
    ----------
    means_mps2
        Mean raw reading of each still pose, m/s^2, shape ``(n, 3)``.
    model
        ``"bias_scale"``, ``"full"``, or ``"auto"``: ``"full"`` when there are at least 9
        distinct poses and they determine it (scaled Jacobian condition number at most
        `MAX_CONDITION_FULL`), otherwise ``"bias_scale"``.
    gravity_mps2
        Local gravity, m/s^2 (standard gravity by default; local values differ by < 0.3 %).
    min_separation_deg
        Poses closer than this in direction count as one.
    max_residual_mps2
        Largest acceptable RMS residual, m/s^2; above it a pose was not still or was wrong.
    pose_std_mps2
        Standard error of each pose mean (scalar or shape ``(n,)``), m/s^2, for the reported
        uncertainties; the RMS residual is used when it is larger or this is ``None``.
    source, where
        Provenance and the location named in error messages.

    Returns
    -------
    AccelCalibration

    Raises
    ------
    GaitInputError
        Fewer than 6 distinct poses (9 for ``"full"``), an axis never seen pointing both up
        and down (beyond +-`AXIS_COVERAGE` g), poses that do not determine the full model, poses too bunched together
        (noise gain of the bias above `MAX_NOISE_GAIN`), or a residual above
        ``max_residual_mps2``; each message says what to record instead.

    Notes
    -----
    A still accelerometer measures gravity only, so the corrected readings must lie on a
    sphere of radius g: the ellipsoid-fitting ("multi-position", "autocalibration") method of
    Frosio, Pedersini and Borghese (2009), "Autocalibration of MEMS accelerometers", IEEE
    Trans. Instrum. Meas. 58(6):2034-2041, and Tedaldi, Pretto and Menegatti (2014), "A robust
    and easy to implement method for IMU calibration without external equipments", ICRA,
    pp. 3042-3049. Deviations: (1) the correction matrix is parameterised as symmetric
    rather than Tedaldi's upper-triangular ``T K``; both span the same observable set
    (gravity cannot see a rotation of the triad), and the symmetric one keeps the corrected
    axes closest to the sensor's own instead of aligning the x axis exactly; (2) each still
    segment enters as its mean (noise averages out, and the residual then measures model
    error, not noise); (3) the six-face procedure, which cannot determine misalignment,
    falls back to the 6-parameter model. Initial values: per-axis ``(max + min) / 2`` and
    ``(max - min) / 2g`` over the poses, then the 6-parameter solution seeds the 9-parameter
    one.
    """
    where = where or Where(parameter="means_mps2")
    check_choice(model, "model", MODELS)
    g = check_positive(gravity_mps2, "gravity_mps2")
    check_positive(max_residual_mps2, "max_residual_mps2")
    a = np.asarray(means_mps2, dtype=float)
    if a.ndim != 2 or a.shape[1] != 3:
        raise GaitInputError("bad pose readings", expected="shape (n, 3)", found=f"shape {a.shape}", where=where)
    if not np.all(np.isfinite(a)):
        raise GaitInputError(
            "bad pose readings", expected="finite readings", found="NaN or infinite values", where=where
        )
    n_poses = count_distinct_poses(a, min_separation_deg=min_separation_deg)
    need = MIN_POSES["full" if model == "full" else "bias_scale"]
    if n_poses < need:
        raise GaitInputError(
            "too few distinct poses",
            expected=f"at least {need} still poses in different orientations",
            found=f"{n_poses} (from {a.shape[0]} still segment{'s' if a.shape[0] != 1 else ''})",
            where=where,
            hint=_POSE_HINT,
        )
    # every axis must be seen both pointing (partly) up and pointing (partly) down
    lo, hi = a.min(axis=0), a.max(axis=0)
    for i, name in enumerate(SENSOR_AXES):
        if lo[i] > -AXIS_COVERAGE * g or hi[i] < AXIS_COVERAGE * g:
            missing = "down" if lo[i] > -AXIS_COVERAGE * g else "up"
            raise GaitInputError(
                f"the poses do not cover axis {name!r}",
                expected=f"axis {name} seen pointing up and pointing down (readings beyond -{AXIS_COVERAGE:g} g "
                f"and +{AXIS_COVERAGE:g} g)",
                found=f"readings from {lo[i] / g:+.2f} g to {hi[i] / g:+.2f} g",
                where=where,
                hint=f"Add a still pose with the {name} axis pointing {missing}",
            )
    p0 = np.concatenate([(hi + lo) / 2, 2 * g / (hi - lo)])
    p6 = _fit(a, "bias_scale", g, p0)
    chosen = "bias_scale" if model == "bias_scale" else "full"
    p = p6
    if chosen == "full":
        p9_0 = np.concatenate([p6, np.zeros(3)])
        cond = _scaled_condition(p9_0, a, "full", g) if n_poses >= MIN_POSES["full"] else math.inf
        if cond > MAX_CONDITION_FULL:
            if model == "full":
                raise GaitInputError(
                    "the poses do not determine the axis misalignment",
                    expected=f"tilted poses as well as the six faces (condition number at most {MAX_CONDITION_FULL:g})",
                    found=f"condition number {cond:.3g} with {n_poses} distinct poses",
                    where=where,
                    hint="Add six poses resting on an edge (about 45 degrees between two faces), or use model "
                    "'bias_scale'",
                )
            chosen = "bias_scale"
        else:
            p = _fit(a, "full", g, p9_0)
    b, c = _unpack(p, chosen)
    if np.linalg.det(c) < 0:  # the sign of C is not observable; keep a proper correction
        c = -c
    r = _residuals(p, a, chosen, g)
    rms = float(np.sqrt(np.mean(r * r)))
    if rms > max_residual_mps2:
        worst = int(np.argmax(np.abs(r)))
        raise GaitInputError(
            "the still poses do not agree with one gravity",
            expected=f"an RMS residual of at most {max_residual_mps2:g} m/s^2",
            found=f"{rms:.3f} m/s^2 (worst: pose {worst + 1}, {r[worst]:+.3f} m/s^2)",
            where=where,
            hint="A pose was not still or an axis saturated; record again with the sensor resting on a surface",
        )
    n_par = p.size
    dof_rms = rms * math.sqrt(a.shape[0] / (a.shape[0] - n_par)) if a.shape[0] > n_par else 0.0
    given = (
        np.zeros(a.shape[0]) if pose_std_mps2 is None else np.broadcast_to(np.asarray(pose_std_mps2, float), r.shape)
    )
    bias_std, scale_std, noise_gain = _uncertainty(p, a, chosen, g, np.maximum(given, dof_rms))
    if noise_gain > MAX_NOISE_GAIN:
        raise GaitInputError(
            "the poses are too close together",
            expected=f"poses spread over every direction (noise gain of the bias at most {MAX_NOISE_GAIN:g})",
            found=f"noise gain {noise_gain:.2g} with {n_poses} distinct poses",
            where=where,
            hint=_POSE_HINT,
        )
    return AccelCalibration(
        bias_mps2=b,
        matrix=c,
        residual_mps2=rms,
        max_residual_mps2=float(np.max(np.abs(r))),
        n_poses=n_poses,
        model=chosen,
        poses_mps2=a,
        residuals_mps2=r,
        bias_std_mps2=bias_std,
        scale_std=scale_std,
        created=utc_now(),
        source=source,
    )


def _check_saturation(session: Session, segments: list[slice], acc_range_mps2: float | None, where: Where) -> None:
    acc = session.acc
    top, bottom = acc.max(axis=0), acc.min(axis=0)
    for sl in segments:  # loop over still segments
        seg = acc[sl]
        if acc_range_mps2 is not None:
            hit = np.abs(seg) >= acc_range_mps2 * (1 - 1e-3)
            flat = hit.mean(axis=0) > 0.05
        else:
            # an axis stuck at the recording's extreme while the others still show noise
            ptp = np.ptp(seg, axis=0)
            stuck = (ptp == 0) & ((seg[0] == top) | (seg[0] == bottom)) & (np.abs(seg[0]) > 0.3 * G)
            flat = stuck & np.any(ptp > 0)
        if flat.any():
            i = int(np.flatnonzero(flat)[0])
            value = float(np.median(seg[:, i]))
            t0, t1 = float(session.t[sl.start]), float(session.t[sl.stop - 1])
            raise GaitInputError(
                f"axis {SENSOR_AXES[i]!r} saturated",
                expected="readings inside the sensor's range",
                found=f"a flat, clipped signal at {value:+.3f} m/s^2 during the pose at t={t0:.1f}-{t1:.1f} s",
                where=where,
                hint="Set the accelerometer range to +-4 g or more and record again",
            )


def calibrate_accelerometer(
    session: Session,
    *,
    model: str = "auto",
    window_s: float = 0.5,
    min_hold_s: float = 1.0,
    acc_std_max_mps2: float = 0.15,
    gyr_std_max_rads: float = 0.05,
    min_separation_deg: float = 20.0,
    max_residual_mps2: float = 0.1,
    acc_range_mps2: float | None = None,
    gravity_mps2: float = G,
    align_gyroscope: bool = True,
) -> AccelCalibration:
    """Accelerometer bias, scale and misalignment from a recording of still poses.

    Still segments are found by rolling standard deviation (`find_still_segments`), checked
    for saturation, averaged, and fitted by `fit_accelerometer`. Record the sensor resting
    still in each pose for 2-3 s, moving it between poses; any order works.

    Parameters
    ----------
    session
        Raw recording in the sensor frame.
    model
        ``"auto"``, ``"bias_scale"`` or ``"full"`` (see `fit_accelerometer`).
    window_s, min_hold_s, acc_std_max_mps2, gyr_std_max_rads
        Still-segment detection (see `find_still_segments`).
    min_separation_deg
        Poses closer than this in direction count as one.
    max_residual_mps2
        Largest acceptable RMS residual of the fit, m/s^2.
    acc_range_mps2
        The accelerometer's full-scale range, m/s^2, if known: readings within 0.1 % of it
        are saturated. Without it, an axis stuck at one value at the extreme of the recording
        while the other axes show noise is taken as saturated.
    gravity_mps2
        Local gravity, m/s^2.
    align_gyroscope
        Also measure the rotation from the accelerometer's axes to the gyroscope's, and the
        gyroscope's scale, from the movements between poses (needs a gyroscope and a
        continuous recording; with the six faces only, it is kept only when the gyroscope
        agrees with the poses to 0.1 deg, i.e. the triad is square); see
        `AccelCalibration.axes`.

    Returns
    -------
    AccelCalibration

    Raises
    ------
    GaitInputError
        Not the sensor frame, no still segments, a saturated axis, too few distinct poses,
        an axis not seen up and down, or a residual too large (see `fit_accelerometer`).

    Notes
    -----
    Method: Frosio et al. (2009) and Tedaldi et al. (2014); see `fit_accelerometer` for the
    references and the deviations. Still detection by a rolling variance threshold follows
    Tedaldi et al. (2014), sec. III-B, with a fixed threshold instead of their
    variance-multiple search. The alignment with the gyroscope is the gyroscope step of
    Tedaldi et al. (2014) with the roles turned round (see ``calibration._align``).
    """
    where = describe_where(session)
    require_sensor_frame(session, "accelerometer calibration")
    if session.missing_acc_axes:
        raise GaitInputError(
            "accelerometer axes missing",
            expected="three accelerometer axes",
            found="no data for axis " + ", ".join(session.missing_acc_axes),
            where=where,
        )
    segments = find_still_segments(
        session,
        window_s=window_s,
        min_duration_s=min_hold_s,
        acc_std_max_mps2=acc_std_max_mps2,
        gyr_std_max_rads=gyr_std_max_rads,
    )
    segments = [s for s in segments if np.all(np.isfinite(session.acc[s]))]
    if not segments:
        raise GaitInputError(
            "no still poses found",
            expected=f"still stretches of at least {min_hold_s:g} s (accelerometer standard deviation below "
            f"{acc_std_max_mps2:g} m/s^2)",
            found=f"none in {session.duration_s:.1f} s",
            where=where,
            hint=_POSE_HINT,
        )
    if acc_range_mps2 is not None:
        check_positive(acc_range_mps2, "acc_range_mps2")
    _check_saturation(session, segments, acc_range_mps2, where)
    means = np.array([session.acc[s].mean(axis=0) for s in segments])
    # standard error of each mean from its own scatter (white noise assumed)
    sem = np.array([float(np.sqrt(np.mean(session.acc[s].var(axis=0)) / (s.stop - s.start))) for s in segments])
    cal = fit_accelerometer(
        means,
        pose_std_mps2=sem,
        model=model,
        gravity_mps2=gravity_mps2,
        min_separation_deg=min_separation_deg,
        max_residual_mps2=max_residual_mps2,
        source=session.meta.source,
        where=where,
    )
    if not align_gyroscope:
        return dataclasses.replace(cal, alignment_note="not requested")
    d = (means - cal.bias_mps2) @ cal.matrix.T
    # the six-face model cannot see a non-square triad, which would bend the alignment: it is
    # accepted only when the gyroscope agrees with the poses to 0.1 deg (a square triad)
    limit = MAX_ALIGNMENT_RESIDUAL_DEG if cal.model == "full" else MAX_ALIGNMENT_RESIDUAL_DEG_BIAS_SCALE
    al = align_to_gyroscope(session, segments, d / np.linalg.norm(d, axis=1, keepdims=True), max_residual_deg=limit)
    if not al.ok:
        return dataclasses.replace(cal, alignment_note=al.reason, alignment_residual_deg=None)
    return dataclasses.replace(
        cal,
        matrix=al.rotation @ cal.matrix,
        axes="gyroscope",
        gyr_scale=al.gyr_scale,
        alignment_residual_deg=al.residual_deg,
    )
