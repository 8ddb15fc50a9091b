"""Nested mappings (a run summary) as flat rows with dotted keys (``median.contact_time_s``).

One helper for the two places that flatten a summary: the batch's tables (every value, lists as
a count and JSON text) and the findings' metric lookup (numbers only, as floats).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["flatten", "jsonable", "scalar"]


def scalar(v: Any) -> Any:
    """A NumPy scalar as the Python number it holds; anything else unchanged."""
    return v.item() if isinstance(v, np.generic) else v


def flatten(d: Mapping[str, Any], prefix: str = "", *, numbers_only: bool = False) -> dict[str, Any]:
    """Nested dict -> flat dict with dotted keys (``median.contact_time_s``).

    A list becomes two columns, ``<key>.count`` and ``<key>.json`` (the list as JSON text);
    scalars are kept (NumPy scalars as Python numbers). With ``numbers_only``, only the numbers
    are kept, as floats (booleans, text, lists and None are left out).
    """
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, key + ".", numbers_only=numbers_only))
        elif numbers_only:
            if isinstance(v, int | float | np.floating | np.integer) and not isinstance(v, bool):
                out[key] = float(v)
        elif isinstance(v, list | tuple):
            out[key + ".count"] = len(v)
            out[key + ".json"] = json.dumps(jsonable(v), sort_keys=True)
        else:
            out[key] = scalar(v)
    return out


def jsonable(v: Any) -> Any:
    """``v`` with only JSON types: mappings and sequences recursively, non-finite floats as None,
    anything else that JSON cannot hold as its text."""
    if isinstance(v, Mapping):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [jsonable(x) for x in v]
    v = scalar(v)
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v if isinstance(v, str | int | float | bool) or v is None else str(v)
