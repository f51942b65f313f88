# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Registry of the measures.

A measure is a function ``fn(ctx) -> list of rows`` (``benchmarks.report.make_row``)
registered with the :func:`measure` decorator in any module of this package;
every module here is imported by :func:`load`, so adding a benchmark is adding
a file::

    from benchmarks.measures import measure
    from benchmarks.report import make_row

    @measure("loyalty_accrual", order=40, target=">= 1", unit="events/s",
             description="...")
    def loyalty_accrual(ctx):
        ...
        return [make_row("loyalty_accrual", value, baseline, ">= 1", "events/s", detail)]

``ctx`` is a :class:`benchmarks.harness.BenchContext`: ``ctx.quick``,
``ctx.log()``, ``ctx.env()``, ``ctx.server(runner=...)``, ``ctx.cleanup``.
Measures run in ``order`` (then name); ``target`` and ``unit`` are used for
the error row when the function raises.
"""

from dataclasses import dataclass
import importlib
import pkgutil


@dataclass(frozen=True)
class Measure:
    name: str
    func: object
    order: int
    target: str
    unit: str
    description: str


REGISTRY = {}


def measure(name, order=100, target=">= 1", unit="", description=""):
    """Decorator registering ``fn(ctx)`` as the measure ``name``."""
    def decorate(func):
        if name in REGISTRY and REGISTRY[name].func is not func:
            raise ValueError(f"measure {name} is registered twice")
        REGISTRY[name] = Measure(name, func, order, target, unit,
                                 description or (func.__doc__ or "").strip().split("\n")[0])
        return func
    return decorate


def load():
    """Import every module of this package; return the measures in run order."""
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")
    return sorted(REGISTRY.values(), key=lambda m: (m.order, m.name))
