"""Regenerate the bundled sample sessions (deterministic: same files every time).

    python sample_data/make_samples.py

Each session is written with its ground truth (``.truth.csv.gz`` per step, ``.truth.json``
with the configuration, activity bouts and sensor mounting).
"""

from __future__ import annotations

from pathlib import Path

from gait.simulator import SensorModel, preset, simulate

HERE = Path(__file__).resolve().parent

#: name -> (preset, changes). Rates and lengths keep the folder small (about 5 MB in all).
SAMPLES = {
    "easy_run": ("easy", {"seed": 101, "sampling_rate_hz": 100.0, "mounting": "belt_clip", "shoes": "Daily trainer"}),
    "heel_overstride": ("heel_overstride", {"seed": 202, "sampling_rate_hz": 200.0, "mounting": "upside_down"}),
    "fatigue_long_run": (
        "fatigue",
        {"seed": 303, "sampling_rate_hz": 100.0, "duration_s": 1200.0, "mounting": "random"},
    ),
    "rotation_lateral_lean": (
        "rotation_lean",
        {
            "seed": 404,
            "sampling_rate_hz": 100.0,
            "mounting": "sideways",
            "sensor": SensorModel(timestamp_jitter_s=0.0006, drop_rate=0.002),
        },
    ),
}


def main() -> None:
    for name, (preset_name, changes) in SAMPLES.items():
        sim = simulate(preset(preset_name, **changes))
        paths = sim.save(HERE / f"{name}.csv.gz", decimals=4)
        print(
            f"{paths[0].name}: {sim.session.duration_s:.0f} s at {sim.session.sampling_rate_hz:g} Hz, "
            f"{int((sim.steps.activity == 'running').sum())} running steps"
        )


if __name__ == "__main__":
    main()
