"""The analysis: a session in, steps, minutes and a run summary out (`gait.analyze`).

The stages, in the order the data flow through them (``docs/architecture.md``):

- `gait.core.quality`: clipping, saturation, filtering and a dead gyroscope, detected;
- `gait.core.activity`: still, walking and running bouts;
- `gait.core.mounting`: the sensor-to-body rotation (standing, straight stretches);
- `gait.core.frames`: the level frame (gravity tracked, trunk angles);
- `gait.core.events`: initial contacts and toe-offs; `gait.core.sides`: left or right;
- `gait.core.metrics`: the step table, the minute table and the run summary;
  `gait.core.strike`: the foot strike per step and the run's dominant strike;
- `gait.core.pipeline`: `analyze`, which runs them; `gait.core.records`: the typed records
  between them; `gait.core.filters`: the shared filter designs.
"""
