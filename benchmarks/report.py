# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Result rows of the benchmarks: build, print, write and merge.

One row per measure, always the same keys::

    {"name", "value", "baseline", "ratio", "target", "ok", "unit", "detail"}

``value`` is what the suite achieves, ``baseline`` the reference it is
compared with, ``ratio = value / baseline`` and ``target`` the condition on
the ratio (``"<= 1.10"`` or ``">= 2"``) that makes ``ok`` true. ``unit`` is
the unit of value and baseline; ``detail`` is a free JSON object (counts,
latencies, errors) for whoever reads the results later.

When less is better for value and baseline alike (calls made, seconds
taken) a row may define its ratio the other way round, ``ratio = baseline /
value`` ("x times fewer"), with ``make_row(..., ratio_of="baseline/value")``;
such a row says so in ``detail.ratio_definition``.
"""

import json
import math
import operator
import os
import tempfile

FIELDS = ("name", "value", "baseline", "ratio", "target", "ok", "unit", "detail")
RATIO_DEFINITIONS = ("value/baseline", "baseline/value")
_OPERATORS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}


def parse_target(target):
    """``"<= 1.10"`` -> (``"<="``, 1.1); raise ``ValueError`` if malformed."""
    text = str(target).strip()
    for symbol in ("<=", ">=", "<", ">"):
        if text.startswith(symbol):
            return symbol, float(text[len(symbol):])
    raise ValueError(f"a target looks like '<= 1.10' or '>= 2', not {target!r}")


def check_target(ratio, target):
    """True when ``ratio`` satisfies ``target`` (False when it is unknown)."""
    if ratio is None or not math.isfinite(ratio):
        return False
    symbol, threshold = parse_target(target)
    return _OPERATORS[symbol](ratio, threshold)


def _clean(number, digits=4):
    if number is None:
        return None
    number = float(number)
    if not math.isfinite(number):
        return None
    return round(number, digits)


def make_row(name, value, baseline, target, unit, detail=None, ratio_of="value/baseline"):
    """One result row; the ratio and ``ok`` are derived from the numbers.

    ``ratio_of`` is ``"value/baseline"`` (the default) or ``"baseline/value"``
    (how many times fewer calls or seconds the suite needs than the baseline).
    """
    parse_target(target)  # fail early on a typo
    if ratio_of not in RATIO_DEFINITIONS:
        raise ValueError(f"ratio_of is one of {RATIO_DEFINITIONS}, not {ratio_of!r}")
    numerator, denominator = (value, baseline) if ratio_of == "value/baseline" \
        else (baseline, value)
    ratio = None
    if numerator is not None and denominator:
        ratio = float(numerator) / float(denominator)
    if ratio_of != RATIO_DEFINITIONS[0]:
        detail = dict(detail or {}, ratio_definition=ratio_of.replace("/", " / "))
    return {
        "name": name,
        "value": _clean(value),
        "baseline": _clean(baseline),
        "ratio": _clean(ratio),
        "target": str(target),
        "ok": check_target(ratio, target),
        "unit": unit,
        "detail": detail or {},
    }


def error_row(name, target, unit, message, detail=None, ratio_of="value/baseline"):
    """The row of a measure that could not run: no numbers, not ok."""
    return make_row(name, None, None, target, unit,
                    dict(detail or {}, error=message), ratio_of=ratio_of)


def _fmt(number):
    if number is None:
        return "-"
    if abs(number) >= 100:
        return f"{number:.1f}"
    return f"{number:.3f}" if abs(number) < 10 else f"{number:.2f}"


def format_table(rows):
    """The rows as a plain-text table (a string, one line per row)."""
    header = ("measure", "value", "baseline", "ratio", "target", "ok", "unit")
    lines = [header]
    for row in rows:
        lines.append((
            row["name"], _fmt(row["value"]), _fmt(row["baseline"]), _fmt(row["ratio"]),
            row["target"], "yes" if row["ok"] else "NO", row["unit"] or "",
        ))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    numeric = {1, 2, 3}
    out = []
    for index, line in enumerate(lines):
        cells = [str(cell).rjust(widths[i]) if i in numeric else str(cell).ljust(widths[i])
                 for i, cell in enumerate(line)]
        out.append("  ".join(cells).rstrip())
        if index == 0:
            out.append("  ".join("-" * w for w in widths))
    for row in rows:
        if row["detail"].get("error"):
            out.append(f"! {row['name']}: {row['detail']['error']}")
    return "\n".join(out)


def print_table(rows, file=None):
    print(format_table(rows), file=file, flush=True)


def read_rows(path):
    """Rows already in ``path`` (an empty list when missing or unreadable)."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return []
    return [r for r in data if isinstance(r, dict) and r.get("name")] \
        if isinstance(data, list) else []


def merge_rows(existing, new):
    """``existing`` with rows of the same name replaced by ``new`` ones, in order."""
    fresh = {row["name"]: row for row in new}
    merged = [fresh.pop(row["name"]) if row["name"] in fresh else row for row in existing]
    merged.extend(row for row in new if row["name"] in fresh)
    return merged


def write_rows(path, rows, merge=True):
    """Write ``rows`` as a JSON list to ``path`` (atomically).

    With ``merge`` the rows of other measures already in the file are kept
    (a row of the same name is replaced), so that running one measure does
    not wipe the results of the others.
    """
    if merge:
        rows = merge_rows(read_rows(path), rows)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".bench-", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(rows, handle, indent=2, sort_keys=False)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return rows
