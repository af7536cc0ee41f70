"""Modules imported when first used, not when the module naming them is.

pandas takes a quarter of a second to import, a tenth of a rebuild of 300 statistics after one
About text changed, and such a rebuild needs it for nothing: its tables, pages and charts come
from the caches. So the engine's modules name it with `pd = lazy("pandas")` and it is imported the
first time an attribute of it is asked for (a table computed, a chart drawn, a classification's
codes looked up), by the ordinary import system and its lock. Standard library only.
"""

from __future__ import annotations

import importlib
import types


class LazyModule(types.ModuleType):
    """Stands for the module of its name, which is imported when an attribute is first asked for;
    its attributes are then copied in, so that later lookups are plain ones. It is never put in
    `sys.modules`: any other import gets the real module."""

    def __getattr__(self, name: str):
        module = importlib.import_module(self.__name__)
        self.__dict__.update(vars(module))
        return getattr(module, name)


def lazy(name: str) -> types.ModuleType:
    """The module `name`, imported when first used."""
    return LazyModule(name)
