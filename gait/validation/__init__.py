"""Validation of the analysis against references it was not built from.

- `gait.validation.virtual_imu`: what an IMU fixed to a moving rigid segment measures, from
  motion-capture markers (dataset-independent).
- `gait.validation.truth`: per-step reference values from the true motion, with the
  analysis' own definitions.
- `gait.validation.rbds`: the RBDS treadmill motion-capture dataset (Fukuchi et al. 2017)
  turned into virtual sacral IMU sessions with per-step truth.

`gait.evaluation` (event matching and agreement statistics) is used with all of them.
"""

from __future__ import annotations

from .truth import analysis_angles, clinical_pelvis_angles, ideal_body_frame, step_truth
from .virtual_imu import (
    VirtualImu,
    mounting_matrix,
    orientation_closure,
    pelvis_frame,
    rigid_fit,
    segment_template,
    velocity_closure,
    virtual_imu,
    zero_lag_lowpass,
)

__all__ = [
    "VirtualImu",
    "analysis_angles",
    "clinical_pelvis_angles",
    "ideal_body_frame",
    "mounting_matrix",
    "orientation_closure",
    "pelvis_frame",
    "rigid_fit",
    "segment_template",
    "step_truth",
    "velocity_closure",
    "virtual_imu",
    "zero_lag_lowpass",
]
