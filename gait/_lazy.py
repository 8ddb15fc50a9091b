"""Modules and functions imported on first use.

The numerical stack takes about a second to import (``scipy.signal`` alone pulls in
``scipy.stats``), which a command that only prints its help, or builds its parser, should
not pay. A module keeps its import line's meaning for the type checker and defers the work::

    if TYPE_CHECKING:
        import pandas as pd
        from scipy.signal import sosfiltfilt
    else:
        pd = lazy_module("pandas")
        sosfiltfilt = lazy_function("scipy.signal", "sosfiltfilt")

Nothing here changes what is computed: the first attribute access (or call) imports the real
module and hands over the real object.
"""

from __future__ import annotations

import importlib
import threading
import types
from collections.abc import Callable
from typing import Any

__all__ = ["lazy_function", "lazy_module", "prefetch"]


class _LazyModule(types.ModuleType):
    """A stand-in for a module, which imports it on the first attribute access."""

    def __getattr__(self, attr: str) -> Any:
        module = importlib.import_module(self.__name__)
        # from now on attributes are found without this method (those the module gains
        # later, such as submodules imported afterwards, still come through it)
        self.__dict__.update(vars(module))
        return getattr(module, attr)


def lazy_module(name: str) -> types.ModuleType:
    """The module ``name``, imported on the first access to one of its attributes."""
    return _LazyModule(name)


def lazy_function(module: str, name: str) -> Callable[..., Any]:
    """``module.name`` (a function), imported on its first call."""
    target: list[Callable[..., Any]] = []

    def call(*args: Any, **kwargs: Any) -> Any:
        if not target:
            target.append(getattr(importlib.import_module(module), name))
        return target[0](*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"`{module}.{name}`, imported on first use."
    return call


def prefetch(*modules: str) -> threading.Thread:
    """Import ``modules`` in a background thread, while the caller reads its input.

    For modules outside this package only (SciPy's take most of a second): they import
    nothing of ours, so the two threads never wait on each other's half-imported modules.
    The caller imports them again where it needs them, which waits for the thread if it is
    not done, and raises any error the import meets (the thread keeps none).
    """

    def run() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # raised again, where it matters, by the caller's own import
                return

    thread = threading.Thread(target=run, name="gait-prefetch", daemon=True)
    thread.start()
    return thread
