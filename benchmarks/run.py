# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Run the suite's benchmarks, print a table of ratios and write them as JSON.

Usually started by ``./setup/suite bench [--reset] [--output FILE] [-- ARGS]``,
which creates the benchmark database and calls::

    python3 benchmarks/run.py --config .run/bench.conf \\
        --database retail_integration_bench --output bench-results.json [ARGS]

See benchmarks/README.md for the measures, their method and their targets.
Exit status: 0 when every measure ran (targets missed or not), 1 when a
measure failed with an error, 2 on bad arguments.
"""

import argparse
import os
import signal
import sys
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args(argv, names):
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="Odoo configuration file")
    parser.add_argument("--database", required=True)
    parser.add_argument("--output", default=os.path.join(ROOT, "bench-results.json"),
                        help="JSON file of the results (rows of other measures already "
                             "in it are kept unless --fresh)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: small counts and short durations")
    parser.add_argument("--only", action="append", metavar="NAME", choices=names,
                        help=f"run only this measure (repeatable): {', '.join(names)}")
    parser.add_argument("--fresh", action="store_true",
                        help="overwrite the output file instead of merging into it")
    parser.add_argument("--list", action="store_true", help="list the measures and exit")
    parser.add_argument("--verbose", action="store_true", help="Odoo's INFO log in process")
    return parser.parse_args(argv)


def _load_average():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _terminate(signum, _frame):
    # Turn SIGTERM/SIGHUP into an exception so that every clean-up runs.
    raise SystemExit(128 + signum)


def main(argv=None):
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    from benchmarks import measures, report
    from benchmarks.harness import BenchContext

    available = measures.load()
    args = parse_args(argv, [m.name for m in available])
    if args.list:
        for item in available:
            print(f"{item.name:28} target ratio {item.target:8} {item.description}")
        return 0
    if not os.path.isfile(args.config):
        print(f"ERROR: no configuration file {args.config}", file=sys.stderr)
        return 2
    selected = [m for m in available if not args.only or m.name in args.only]
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _terminate)

    ctx = BenchContext(args.config, args.database, quick=args.quick, verbose=args.verbose)
    rows, failed = [], False
    ctx.log(f"database {args.database}, {'quick' if args.quick else 'full'} run of "
            f"{', '.join(m.name for m in selected)}; {os.cpu_count()} CPUs, load average "
            f"{_load_average()} (other work on the machine skews the numbers)")
    try:
        for item in selected:
            ctx.log(f"--- {item.name}: {item.description}")
            try:
                new_rows = item.func(ctx)
            except KeyboardInterrupt:
                raise
            except Exception as exc:
                failed = True
                traceback.print_exc()
                new_rows = [report.error_row(item.name, item.target, item.unit,
                                             f"{type(exc).__name__}: {exc}")]
            for row in new_rows:
                row["detail"].setdefault("load_average_after", _load_average())
                ctx.log(f"{row['name']}: value {row['value']} / baseline {row['baseline']} "
                        f"= {row['ratio']} (target {row['target']}: "
                        f"{'ok' if row['ok'] else 'missed'})")
            rows.extend(new_rows)
    finally:
        ctx.close()
    print()
    report.print_table(rows)
    report.write_rows(args.output, rows, merge=not args.fresh)
    ctx.log(f"results written to {args.output}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
