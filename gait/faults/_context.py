"""The evaluation context: the analysis's running steps, every metric by name (the summary
flattened and the derived metrics), the unavailable ones with their reasons, the history and the
elevation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._flat import flatten
from ..tracks import Track as ElevationTrack
from ._derived import derived_metrics

if TYPE_CHECKING:
    from ..core.pipeline import Analysis
    from ..history import History


@dataclass(frozen=True)
class EvaluationContext:
    """What the rules are evaluated on (`evaluation_context`); the report draws its charts from it.

    ``run`` holds the running steps in time order (``t``: their contact times, s; ``n`` of them),
    ``metrics`` every scalar metric by name (the run summary flattened to dotted names, and the
    ``derived.*`` metrics), ``per_step`` the derived per-step series, ``unavailable`` the metrics
    that cannot be measured with the reason.
    """

    analysis: Analysis
    run: pd.DataFrame
    t: np.ndarray
    n: int
    running_s: float
    metrics: dict[str, float]
    per_step: dict[str, np.ndarray]
    unavailable: dict[str, str]
    history: History | None
    elevation: ElevationTrack | None
    history_reason: str

    def step_values(self, column: str | None) -> np.ndarray | None:
        """One value per running step: a derived series or a step-table column (None if neither)."""
        if column is None:
            return None
        if column in self.per_step:
            return self.per_step[column]
        if column in self.run.columns:
            return self.run[column].to_numpy(float)
        return None


def evaluation_context(
    analysis: Analysis,
    history: History | None = None,
    elevation: ElevationTrack | None = None,
    history_reason: str | None = None,
) -> EvaluationContext:
    """The context `assess` evaluates the catalogue's rules in (``history_reason``: why there is
    no history, when there is none)."""
    run = analysis.running_steps.sort_values("ic_s")
    der = derived_metrics(analysis)
    metrics = flatten(analysis.summary, numbers_only=True)
    metrics.update(der.values)
    unav = dict(analysis.unavailable)
    unav.update(der.unavailable)
    if "side" not in unav and len(run) and not run["side"].isin(["L", "R"]).any():
        unav["side"] = "the side of each step could not be determined"
    running_s = float(analysis.summary.get("running_s", 0.0) or 0.0)
    return EvaluationContext(
        analysis=analysis,
        run=run,
        t=run["ic_s"].to_numpy(float),
        n=len(run),
        running_s=running_s,
        metrics=metrics,
        per_step=der.per_step,
        unavailable=unav,
        history=history,
        elevation=elevation,
        history_reason=history_reason or "no run history was given",
    )
