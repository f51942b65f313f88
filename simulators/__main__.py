# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""``python -m simulators <name> [options]``: run one simulator by name."""

import importlib
import sys

# name -> module; each module exposes main(argv)
SIMULATORS = {"loyalty": "simulators.loyalty", "oms": "simulators.oms",
              "settlement": "simulators.settlement"}


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in SIMULATORS:
        names = ", ".join(sorted(SIMULATORS))
        print(f"usage: python -m simulators {{{names}}} [options]  "
              f"(python -m simulators <name> --help for the options)", file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    module = importlib.import_module(SIMULATORS[argv[0]])
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
