"""Walking events against foot-sensor references: a real lower-back IMU (Voisard et al. 2023).

    python benchmarks/walking.py                    # the table of docs/walking.md (about 1 minute)
    python benchmarks/walking.py --json out.json    # every trial as JSON

Data: Voisard et al. (2023), folder ``voisard2023_lowback_walking`` of the real-data folder
(``GAIT_SHARED_DATA``, docs/validation.md; 10 healthy adults, 58 trials: stand, walk 10 m,
U-turn, walk back, stop; XSens MTw at L5, 100 Hz; initial contacts and toe-offs from sensors
on both feet, checked by hand). Skipped, with a message, when the folder is absent.

What is compared, per trial, inside the trial's ``TrialBoundaries``:

- *Initial contacts*: every reference contact (both feet) against the contacts of the steps
  the pipeline labelled walking: F1 at 50, 100 and 200 ms (one-to-one, nearest first), the bias
  (mean of estimate - reference over the pairs matched within 100 ms) and their MAE.
- *Cadence*: 60 / mean step time of the valid walking steps of the straight walk (outside
  the U-turn) against the same from the reference contacts (steps per minute).
- *Side*: the share of matched steps given a side (``L``/``R``), and the share of those that
  are right.
- *Activity*: the share of the trial's time labelled walking, other, still, running.
- *Toe-off* (estimated, ``toe_off_measured=False``): against the reference toe-off of the same
  foot that follows the contact.

Reading the files (checked against the signal): each foot event pair is ``[toe-off, initial
contact]`` (the swing of that foot: the pairs last 0.35-0.5 s, the time between them 0.6-0.7
s; and the lower-back vertical acceleration rises sharply within 30 ms after the second
index, the heel strike). Event indices count samples of the sensors' shared packet counter:
the lower-back files lose packets (up to 65 in a row), so each sample is placed at
``PacketCounter / 100`` s, not at its row number (by row number the references drift late
by up to 0.65 s after a loss; contacts within 50 ms fall from 88 % to 79 %). Fourteen files
start their counter at 1 rather than 0; taking the counter as it is (not from the first row)
aligns them with the others (their median bias moves 10 ms closer to the rest).

Anything chosen on these data is reported leave-one-subject-out: the three constants of the
contact detector (the step low-pass, the peak low-pass and the search window) are picked
from a small grid on nine subjects and scored on the tenth.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

import gait
from gait.constants import AP, V
from gait.core import events as ev_mod
from gait.errors import GaitDataWarning
from gait.evaluation import match_events

REPO = Path(__file__).resolve().parents[1]
#: Voisard et al. (2023), in the real-data folder (docs/validation.md: where the real data live).
DATA = Path(os.environ.get("GAIT_SHARED_DATA", REPO.parent / "shared" / "data")) / "voisard2023_lowback_walking"
FS_HZ = 100.0
TOLERANCES_S = (0.05, 0.1, 0.2)
#: the grid the leave-one-subject-out selection picks from (step low-pass Hz, peak low-pass
#: Hz, search window s); the first is the shipped default
GRID: tuple[tuple[float, float, float], ...] = (
    (2.0, 20.0, 0.2),
    (2.0, 10.0, 0.2),
    (2.0, 20.0, 0.3),
    (3.0, 20.0, 0.2),
    (2.0, 40.0, 0.2),
    (1.5, 20.0, 0.2),
)


def trials(root: Path = DATA) -> list[str]:
    """Trial codes ``S-T`` in subject, trial order."""
    names = [p.name[: -len(".json.gz")] for p in root.glob("*.json.gz")]
    return sorted(names, key=lambda s: tuple(int(x) for x in s.split("-")))


def load_trial(code: str, root: Path = DATA) -> tuple[gait.Session, dict]:
    """The lower-back session of a trial (samples at their packet counter) and its metadata."""
    meta = json.loads(gzip.open(root / f"{code}.json.gz").read())
    df = pd.read_csv(root / f"{code}_lb.txt.gz", sep="\t", skiprows=1)
    t = df["PacketCounter"].to_numpy(float) / FS_HZ
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GaitDataWarning)  # lost packets: gaps, said so
        s = gait.session_from_arrays(
            t,
            df[["Acc_X", "Acc_Y", "Acc_Z"]].to_numpy(float),
            df[["Gyr_X", "Gyr_Y", "Gyr_Z"]].to_numpy(float),
            sampling_rate_hz=FS_HZ,
            source=f"{code}_lb.txt.gz",
        )
    return s, meta


def reference(meta: dict) -> pd.DataFrame:
    """Reference contacts inside the trial: ``ic_s``, ``side``, ``to_next_s`` (the toe-off of
    the same foot that follows), sorted by time."""
    rows = []
    for side, key in (("L", "LeftFootEvents"), ("R", "RightFootEvents")):
        ev = np.asarray(meta[key], dtype=float)
        to_next = np.append(ev[1:, 0], np.nan)
        rows += [(ic / FS_HZ, side, tn / FS_HZ) for ic, tn in zip(ev[:, 1], to_next)]
    df = pd.DataFrame(rows, columns=["ic_s", "side", "to_next_s"]).sort_values("ic_s", ignore_index=True)
    a, b = np.asarray(meta["TrialBoundaries"], dtype=float) / FS_HZ
    return df[(df["ic_s"] >= a) & (df["ic_s"] <= b)].reset_index(drop=True)


@dataclass
class TrialResult:
    trial: str
    subject: int
    n_ref: int
    n_det: int
    f1_50: float
    f1_100: float
    f1_200: float
    bias_ms: float
    mae_ms: float
    cadence_ref_spm: float
    cadence_spm: float
    side_rate: float
    side_right: float
    walking_share: float
    other_share: float
    still_share: float
    to_bias_ms: float  # median error of the estimated toe-off
    to_mae_ms: float  # median absolute error (the turn's steps give a long tail)


def _cadence(step_s: np.ndarray) -> float:
    """Steps per minute from step times: 60 / their mean (steps of 0.3-1.2 s; a median of
    times sampled at 100 Hz moves in steps of 2-3 spm)."""
    st = step_s[(step_s > 0.3) & (step_s < 1.2)]
    return float(60.0 / np.mean(st)) if st.size else float("nan")


def score_trial(code: str, a: gait.Analysis, meta: dict, det_ic_s: np.ndarray | None = None) -> TrialResult:
    """Compare the walking steps of an analysis with the trial's references."""
    ref = reference(meta)
    lo, hi = np.asarray(meta["TrialBoundaries"], dtype=float) / FS_HZ
    st = a.steps
    walk = st[(st["activity"] == "walking") & (st["ic_s"] >= lo - 0.3) & (st["ic_s"] <= hi + 0.3)].reset_index(
        drop=True
    )
    det = walk["ic_s"].to_numpy(float) if det_ic_s is None else det_ic_s
    f1 = {}
    for tol in TOLERANCES_S:
        f1[tol] = match_events(det, ref["ic_s"].to_numpy(), tolerance_s=tol).f1
    m = match_events(det, ref["ic_s"].to_numpy(), tolerance_s=0.1)
    err = det[m.detected_idx] - ref["ic_s"].to_numpy()[m.reference_idx]
    # cadence of the straight walking (the U-turn's steps are irregular in both)
    u0, u1 = np.asarray(meta["UTurnBoundaries"], dtype=float) / FS_HZ

    def straight(t0: np.ndarray, t1: np.ndarray) -> np.ndarray:
        return (t0 >= lo) & (t1 <= hi) & ((t1 < u0) | (t0 > u1))

    v = walk[walk["valid"]]
    t_a, t_b = v["ic_s"].to_numpy(float), (v["ic_s"] + v["step_time_s"]).to_numpy(float)
    cad = _cadence((t_b - t_a)[straight(t_a, t_b)])
    r_ic = ref["ic_s"].to_numpy()
    cad_ref = _cadence(np.diff(r_ic)[straight(r_ic[:-1], r_ic[1:])])
    side_rate = side_right = float("nan")
    to_err = np.zeros(0)
    if det_ic_s is None and m.true_positives:
        s_det = walk["side"].to_numpy(object)[m.detected_idx]
        s_ref = ref["side"].to_numpy(object)[m.reference_idx]
        decided = np.isin(s_det, ["L", "R"])
        side_rate = float(decided.mean())
        side_right = float((s_det[decided] == s_ref[decided]).mean()) if decided.any() else float("nan")
        to_err = walk["to_s"].to_numpy(float)[m.detected_idx] - ref["to_next_s"].to_numpy(float)[m.reference_idx]
        to_err = to_err[np.isfinite(to_err)]
    b = a.bouts
    over = np.clip(np.minimum(b["end_s"], hi) - np.maximum(b["start_s"], lo), 0.0, None)
    share = over.groupby(b["kind"]).sum() / (hi - lo)
    return TrialResult(
        trial=code,
        subject=int(code.split("-")[0]),
        n_ref=len(ref),
        n_det=int(det.size),
        f1_50=f1[0.05],
        f1_100=f1[0.1],
        f1_200=f1[0.2],
        bias_ms=float(1000 * err.mean()) if err.size else float("nan"),
        mae_ms=float(1000 * np.abs(err).mean()) if err.size else float("nan"),
        cadence_ref_spm=cad_ref,
        cadence_spm=cad,
        side_rate=side_rate,
        side_right=side_right,
        walking_share=float(share.get("walking", 0.0)),
        other_share=float(share.get("other", 0.0)),
        still_share=float(share.get("still", 0.0)),
        to_bias_ms=float(1000 * np.median(to_err)) if to_err.size else float("nan"),
        to_mae_ms=float(1000 * np.median(np.abs(to_err))) if to_err.size else float("nan"),
    )


def _contacts_with(a: gait.Analysis, params: tuple[float, float, float]) -> np.ndarray:
    """Walking contacts of an analysis recomputed with other detector constants."""
    old = (ev_mod.WALK_STEP_LP_HZ, ev_mod.WALK_PEAK_LP_HZ, ev_mod.WALK_SEARCH_S)
    ev_mod.WALK_STEP_LP_HZ, ev_mod.WALK_PEAK_LP_HZ, ev_mod.WALK_SEARCH_S = params
    try:
        out = []
        t = a.session.t
        for b in a.bouts[a.bouts["kind"] == "walking"].itertuples(index=False):
            i0, i1 = np.searchsorted(t, [b.start_s, b.end_s - 0.5 / FS_HZ])
            sl = slice(int(i0), int(i1) + 1)
            e = ev_mod.walking_events(
                a.signals.acc[sl, V], sampling_rate_hz=FS_HZ, t0=float(t[i0]), acc_ap=a.signals.acc[sl, AP]
            )
            out.append(e["ic_s"].to_numpy(float))
        return np.concatenate(out) if out else np.zeros(0)
    finally:
        ev_mod.WALK_STEP_LP_HZ, ev_mod.WALK_PEAK_LP_HZ, ev_mod.WALK_SEARCH_S = old


def run(root: Path = DATA, *, loso: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-trial results (default detector) and the leave-one-subject-out rows."""
    results, grid_rows = [], []
    for code in trials(root):
        s, meta = load_trial(code, root)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GaitDataWarning)
            a = gait.analyze(s)
        results.append(score_trial(code, a, meta))
        for k, params in enumerate(GRID if loso else ()):
            r = score_trial(code, a, meta, det_ic_s=_contacts_with(a, params))
            grid_rows.append(
                {"trial": code, "subject": r.subject, "variant": k, "f1_50": r.f1_50, "bias_ms": r.bias_ms}
            )
    per_trial = pd.DataFrame([vars(r) for r in results])
    grid = pd.DataFrame(grid_rows, columns=["trial", "subject", "variant", "f1_50", "bias_ms"])
    rows = []
    for subj in sorted(grid["subject"].unique()):
        train = grid[grid["subject"] != subj].groupby("variant")["f1_50"].mean()
        pick = int(train.idxmax())
        test = grid[(grid["subject"] == subj) & (grid["variant"] == pick)]
        rows.append(
            {
                "subject": subj,
                "picked": GRID[pick],
                "f1_50": float(test["f1_50"].mean()),
                "bias_ms": float(test["bias_ms"].mean()),
            }
        )
    return per_trial, pd.DataFrame(rows, columns=["subject", "picked", "f1_50", "bias_ms"])


def per_subject(df: pd.DataFrame) -> pd.DataFrame:
    """Per-subject summary (means over trials; cadence error is the mean absolute error)."""
    d = df.assign(cadence_err_spm=(df["cadence_spm"] - df["cadence_ref_spm"]).abs())
    cols = [
        "n_ref",
        "f1_50",
        "f1_100",
        "f1_200",
        "bias_ms",
        "mae_ms",
        "cadence_err_spm",
        "side_rate",
        "side_right",
        "other_share",
        "still_share",
        "to_bias_ms",
        "to_mae_ms",
    ]
    g = d.groupby("subject")[cols].mean()
    g["n_ref"] = d.groupby("subject")["n_ref"].sum()
    g["trials"] = d.groupby("subject").size()
    allrow = d[cols].mean().to_frame("all").T
    allrow["n_ref"] = d["n_ref"].sum()
    allrow["trials"] = len(d)
    return pd.concat([g, allrow])


def markdown(summary: pd.DataFrame, loso: pd.DataFrame) -> str:
    head = (
        "| subject | trials | contacts | F1 50 ms | F1 100 ms | F1 200 ms | bias | MAE | cadence error | "
        "side given | side right | other | still | toe-off (estimated): median error, median abs. error | LOSO F1 50 ms | LOSO bias |"
    )
    out = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    lo = loso.set_index("subject")
    for idx, r in summary.iterrows():
        ls = lo.loc[idx] if idx in lo.index else None
        lf = f"{ls['f1_50']:.3f}" if ls is not None else f"{loso['f1_50'].mean():.3f}" if len(loso) else "-"
        lb = f"{ls['bias_ms']:+.1f} ms" if ls is not None else f"{loso['bias_ms'].mean():+.1f} ms" if len(loso) else "-"
        out.append(
            f"| {idx} | {int(r['trials'])} | {int(r['n_ref'])} | {r['f1_50']:.3f} | {r['f1_100']:.3f} | "
            f"{r['f1_200']:.3f} | {r['bias_ms']:+.1f} ms | {r['mae_ms']:.1f} ms | {r['cadence_err_spm']:.2f} spm | "
            f"{100 * r['side_rate']:.0f} % | {100 * r['side_right']:.0f} % | {100 * r['other_share']:.1f} % | "
            f"{100 * r['still_share']:.1f} % | {r['to_bias_ms']:+.0f} ms, {r['to_mae_ms']:.0f} ms | {lf} | {lb} |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--data", type=Path, default=DATA, help="the Voisard et al. (2023) folder (default: in GAIT_SHARED_DATA)"
    )
    p.add_argument("--json", type=Path, help="write every trial as JSON")
    p.add_argument("--no-loso", action="store_true", help="skip the leave-one-subject-out selection")
    args = p.parse_args(argv)
    if not (args.data / "1-1.json.gz").is_file():
        print(f"real walking recordings not found at {args.data}: nothing to measure", file=sys.stderr)
        return 0
    t0 = time.perf_counter()
    per_trial, loso = run(args.data, loso=not args.no_loso)
    summary = per_subject(per_trial)
    print(markdown(summary, loso))
    worst = per_trial.loc[per_trial["bias_ms"].abs().idxmax()]
    print(
        f"\n{len(per_trial)} trials in {time.perf_counter() - t0:.0f} s; trial bias from "
        f"{per_trial['bias_ms'].min():+.1f} to {per_trial['bias_ms'].max():+.1f} ms (worst {worst['trial']}); "
        f"trial F1 at 50 ms from {per_trial['f1_50'].min():.3f}; cadence error at most "
        f"{(per_trial['cadence_spm'] - per_trial['cadence_ref_spm']).abs().max():.2f} spm; "
        f"LOSO picks: {sorted(set(map(tuple, loso['picked'])))}"
        if len(loso)
        else "",
        file=sys.stderr,
    )
    if args.json:
        args.json.write_text(per_trial.to_json(orient="records", indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
