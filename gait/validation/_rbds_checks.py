"""Checks of the RBDS virtual IMU against the motion and the force it came from."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..constants import G
from ._rbds_files import (
    FORCE_FS_HZ,
    FS_HZ,
)
from .virtual_imu import (
    orientation_closure,
    velocity_closure,
)

if TYPE_CHECKING:
    from .rbds import RbdsData


# ---------------------------------------------------------------------------------------
# self-checks
# ---------------------------------------------------------------------------------------
def self_checks(data: RbdsData) -> dict[str, float]:
    """Checks of the virtual IMU against the motion and the force it came from.

    Over every stride (contact ``k`` to contact ``k + 2`` of the truth events):

    - ``velocity_closure_*_mps``: the vertical velocity change from integrating the world
      vertical specific force minus g (0 for a periodic motion);
    - ``orientation_closure_*_deg``: the angle between the marker orientation at the stride's
      end and the one rebuilt by integrating the angular rate from its start;
    - ``mean_vertical_specific_force_g``: the mean world-vertical specific force over whole
      strides, in g (1 for a periodic motion);

    and, with force: ``force_mean_bw`` (mean force over whole strides / body weight from the
    participant table, when known), ``body_weight_n`` (that mean force), and the agreement of
    ``force / body weight`` with ``f_up / g`` of the sacral point (``force_vs_sacrum_rms_bw``,
    ``force_vs_sacrum_r``): the sacrum moves close to, but not exactly with, the centre of
    mass.
    """
    imu, sl = data.imu, data.run
    t = imu.t_s
    ic = np.searchsorted(t, data.steps["ic_s"].to_numpy())
    s, e = ic[:-2], ic[2:]
    dv = velocity_closure(imu.acc_world_mps2, s, e, sampling_rate_hz=FS_HZ)
    dth = orientation_closure(imu.gyr_segment_rads, imu.orientation, s, e, sampling_rate_hz=FS_HZ)
    a_up = imu.acc_world_mps2[:, 2]
    # whole strides: from the first contact to the last contact an even number of steps later
    whole = ic[: ic.size - ((ic.size - 1) % 2)]
    i0, i1 = int(whole[0]), int(whole[-1])
    mean_f = float(a_up[i0:i1].mean() / G)
    out = {
        "strides": float(s.size),
        "velocity_closure_median_mps": float(np.median(np.abs(dv))),
        "velocity_closure_max_mps": float(np.max(np.abs(dv))),
        "vertical_velocity_range_mps": float(np.ptp(np.cumsum(a_up[sl] - G) / FS_HZ)),
        "orientation_closure_median_deg": float(np.median(dth)),
        "orientation_closure_max_deg": float(np.max(dth)),
        "mean_vertical_specific_force_g": mean_f,
    }
    if data.force_n is not None:
        f = data.force_n
        tf = data.info["run_t0_s"] + np.arange(f.size) / FORCE_FS_HZ
        a, b = np.searchsorted(tf, [t[i0], t[i1]])
        bw = float(f[a:b].mean())
        out["body_weight_n"] = bw
        mass = data.info.get("mass_kg")
        out["force_mean_bw"] = bw / (mass * G) if mass else float("nan")
        sac = np.interp(tf[a:b], t, a_up) / G
        fb = f[a:b] / bw
        out["force_vs_sacrum_rms_bw"] = float(np.sqrt(np.mean((fb - sac) ** 2)))
        out["force_vs_sacrum_r"] = float(np.corrcoef(fb, sac)[0, 1])
    return out
