# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""pytest plugin of the suite (loaded by ``setup/suite test``).

1. A skipped test fails the run: pytest-odoo skips browser tests (HttpCase,
   tours) when the HTTP server or websocket-client is missing, and a
   skipped tour is not a passing one.
2. Test files get their Odoo module names whatever the clone's folder is
   called: the repository root is itself the ``retail_integration``
   meta-module, so the folder name must not leak into module names.
"""

from pathlib import Path

import _pytest.pathlib

ROOT = Path(__file__).resolve().parent.parent
META = "retail_integration"


def _module_name(path):
    try:
        parts = list(Path(path).resolve().relative_to(ROOT).with_suffix("").parts)
    except ValueError:
        return None
    if parts and parts[-1] == "__init__":
        parts.pop()
    if not parts:
        return f"odoo.addons.{META}"
    if (ROOT / parts[0] / "__manifest__.py").is_file():
        return "odoo.addons." + ".".join(parts)
    if parts[0] == "simulators":
        return ".".join(parts)
    return f"odoo.addons.{META}." + ".".join(parts)


def pytest_sessionstart(session):
    original = _pytest.pathlib.resolve_pkg_root_and_module_name

    def resolve(path, *, consider_namespace_packages=False):
        name = _module_name(path)
        if name is None:
            return original(path, consider_namespace_packages=consider_namespace_packages)
        return ROOT, name

    _pytest.pathlib.resolve_pkg_root_and_module_name = resolve


def pytest_sessionfinish(session, exitstatus):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    skipped = terminalreporter.stats.get("skipped", [])
    if skipped:
        terminalreporter.write_line(
            f"FAILED: {len(skipped)} test(s) were skipped; the suite counts a skipped test "
            "as a failure (is Odoo's HTTP server on and websocket-client installed?)",
            red=True)
