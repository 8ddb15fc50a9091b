"""What the `gait history` commands share: opening the store, reading dates and run
references, JSON documents, the text of a run."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ..constants import EXIT_FAILED, EXIT_OK
from ..errors import GaitInputError, Where

#: Name and version of the JSON written by ``list --json``, ``trend --json``, ``compare --json``.
JSON_SCHEMA = "gait-lumbar-history"


JSON_SCHEMA_VERSION = 1


SPARK = "▁▂▃▄▅▆▇█"


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------
def band_text() -> str:
    from .stats import BAND_EXPLANATION

    return BAND_EXPLANATION


def make_console():
    from rich.console import Console

    return Console()


def parse_day(text: str | None, parameter: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise GaitInputError(
            "not a date", expected="a date YYYY-MM-DD", found=repr(text), where=Where(parameter=parameter)
        ) from None


def parse_when(text: str, keep_time_of: datetime, parameter: str) -> datetime:
    """A date (keeps the time of day of ``keep_time_of``) or a date and time (local when naive)."""
    s = text.strip()
    if len(s) == 10:
        day = parse_day(s, parameter)
        assert day is not None
        return keep_time_of.replace(year=day.year, month=day.month, day=day.day)
    try:
        when = datetime.fromisoformat(s[:-1] + "+00:00" if s.endswith("Z") else s)
    except ValueError:
        raise GaitInputError(
            "not a date",
            expected="YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM]",
            found=repr(text),
            where=Where(parameter=parameter),
        ) from None
    return when if when.tzinfo is not None else when.astimezone()


def check_period(since: date | None, until: date | None, names: tuple[str, str]) -> None:
    if since is not None and until is not None and since > until:
        raise GaitInputError(
            "empty period",
            expected=f"{names[0]} on or before {names[1]}",
            found=f"{since.isoformat()} after {until.isoformat()}",
            where=Where(parameter=names[0]),
        )


def open_store(args: argparse.Namespace, *, must_exist: bool):
    """The open store, or None when there is no database yet (read-only actions say so)."""
    from ._records import default_history_path
    from ._store import HistoryStore

    path = args.history_db if args.history_db is not None else default_history_path()
    if must_exist and not Path(path).exists():
        return None, path
    store = HistoryStore(path)
    store.open()
    return store, path


def no_history(path) -> int:
    print(
        f"no run history yet: {path} does not exist (gait analyze stores your runs; "
        "gait history import FOLDER adds past recordings)"
    )
    return EXIT_OK


def resolve(store, ref: str, parameter: str = "RUN"):
    found = store.find(ref)
    if not found:
        raise GaitInputError(
            "no run matches",
            expected="a run number from 'gait history list', a date YYYY-MM-DD or the start of a fingerprint",
            found=repr(ref),
            where=Where(parameter=parameter),
        )
    if len(found) > 1:
        raise GaitInputError(
            "several runs match",
            expected="one run",
            found=", ".join(f"run {r.run_id} ({r.started_at:%Y-%m-%d %H:%M})" for r in found),
            where=Where(parameter=parameter),
            hint="Use the run number",
        )
    return found[0]


def metric_specs(names: Sequence[str] | None, default, parameter: str):
    from .stats import metric_spec

    chosen = [metric_spec(n, parameter=parameter) for n in (names or default)]
    return list(dict.fromkeys(chosen))


def with_history(fn):
    """Run an action; a history that cannot be used (locked, foreign, newer) exits with 1."""
    from ._records import HistoryUnavailable

    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except HistoryUnavailable as e:
            print(f"error: history: {e.reason}", file=sys.stderr)
            return EXIT_FAILED

    return run


def date_mark(r) -> str:
    return "" if r.date_source == "session start time" else "*"


def findings_text(r) -> str:
    if r.findings is None:
        return "not recorded"
    if not r.findings:
        return "none"
    return ", ".join(f"{f.name} ({f.severity})" for f in r.findings)


def print_json(doc: dict[str, Any]) -> None:
    print(json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False))


def json_doc(kind: str, path, **body: Any) -> dict[str, Any]:
    from ._schema import SCHEMA_VERSION

    return {
        "schema": JSON_SCHEMA,
        "schema_version": JSON_SCHEMA_VERSION,
        "kind": kind,
        "database": str(path),
        "database_layout": SCHEMA_VERSION,
        **body,
    }


def json_number(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None
