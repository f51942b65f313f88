# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The addons as pip packages, the OCA way, proven end to end.

Each addon builds with whool into ``odoo_addon_<addon>-18.0.*.whl`` that
declares its Odoo and Python dependencies. The four wheels then go into a
*new* venv beside the Odoo that ``setup/suite`` installed (the vendored
wheel in CI), with nothing of the repository on the path, and the suite is
installed into a new database from them: what an existing Odoo user does.
"""

import email.parser
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADDONS = ["retail_integration_base", "retail_oms_connector", "retail_loyalty_connector",
          "retail_settlement"]
DB = "retail_integration_pkgtest"


def _run(cmd, **kw):
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "ODOO_RC")}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, **kw)
    if result.returncode:
        raise AssertionError(f"{' '.join(cmd[:6])}... failed ({result.returncode}):\n"
                             f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout


def _metadata(wheel):
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.Parser().parsestr(archive.read(name).decode())


class TestAddonWheels(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="retail-wheels-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        cls.wheelhouse = os.path.join(cls.tmp, "wheels")
        # whool is pinned in setup/requirements.txt: no build isolation, so
        # the build needs no download.
        _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
              "-q", "-w", cls.wheelhouse, *[os.path.join(ROOT, a) for a in ADDONS]],
             cwd=cls.tmp)
        cls.wheels = {}
        for addon in ADDONS:
            found = glob.glob(os.path.join(cls.wheelhouse, f"odoo_addon_{addon}-18.0.*.whl"))
            cls.wheels[addon] = found[0] if len(found) == 1 else None

    def test_each_addon_builds_an_oca_named_wheel(self):
        for addon, wheel in self.wheels.items():
            self.assertTrue(wheel, f"no odoo_addon_{addon}-18.0.*.whl in "
                                   f"{os.listdir(self.wheelhouse)}")
            metadata = _metadata(wheel)
            self.assertEqual(metadata["Name"], f"odoo-addon-{addon}")
            self.assertRegex(metadata["Version"], r"^18\.0\.\d+\.\d+\.\d+")
            with zipfile.ZipFile(wheel) as archive:
                self.assertIn(f"odoo/addons/{addon}/__manifest__.py", archive.namelist())

    def test_wheels_declare_their_dependencies(self):
        base = _metadata(self.wheels["retail_integration_base"]).get_all("Requires-Dist")
        self.assertIn("odoo==18.0.*", base)
        self.assertIn("requests", base)
        self.assertIn("cryptography", base)
        # queue_job capped at the release that works with this Odoo build.
        queue_job = [r for r in base if r.startswith("odoo-addon-queue_job")]
        self.assertEqual(len(queue_job), 1, base)
        self.assertIn("<=18.0.3.1.2", queue_job[0])
        for addon in ADDONS[1:]:
            requires = _metadata(self.wheels[addon]).get_all("Requires-Dist")
            self.assertIn("odoo-addon-retail_integration_base==18.0.*", requires, addon)
            self.assertIn("odoo==18.0.*", requires, addon)

    def test_wheels_install_the_suite_beside_odoo_in_a_new_venv(self):
        """A new venv: Odoo's pins, the Odoo that set-up installed, the four
        wheels (pip resolves queue_job within the cap); then the three
        connectors are installed into a new database from site-packages."""
        stamp_path = os.path.join(ROOT, ".venv", "retail-setup.json")
        with open(stamp_path) as handle:
            odoo_source = json.load(handle)["odoo_source"]
        venv = os.path.join(self.tmp, "venv")
        _run([sys.executable, "-m", "venv", venv])
        py = os.path.join(venv, "bin", "python")
        _run([py, "-m", "pip", "install", "-q", "--only-binary=:all:",
              "--no-binary=ofxparse,vobject,docopt",
              "-r", os.path.join(ROOT, "setup", "requirements-odoo.txt")])
        _run([py, "-m", "pip", "install", "-q", "--no-deps", odoo_source])
        _run([py, "-m", "pip", "install", "-q", *self.wheels.values()])
        queue_job = _run([py, "-m", "pip", "show", "odoo-addon-queue_job"])
        self.assertRegex(queue_job, r"(?m)^Version: 18\.0\.3\.1\.2$")
        site = _run([py, "-c", "import odoo.addons.retail_settlement as m; print(m.__file__)"],
                    cwd=self.tmp)
        self.assertTrue(site.strip().startswith(venv), site)

        subprocess.run(["dropdb", "--if-exists", DB], capture_output=True, check=False)
        self.addCleanup(subprocess.run, ["dropdb", "--if-exists", DB], capture_output=True,
                        check=False)
        data_dir = os.path.join(self.tmp, "data")
        _run([py, "-m", "odoo", "-d", DB, "--db_host=", "--data-dir", data_dir,
              "-i", "retail_oms_connector,retail_loyalty_connector,retail_settlement",
              "--without-demo=all", "--stop-after-init", "--log-level=warn",
              "--http-port=0"],
             cwd=self.tmp)
        states = _run(["psql", "-d", DB, "-Atqc",
                       "SELECT name || '=' || state FROM ir_module_module "
                       "WHERE name LIKE 'retail_%' OR name = 'queue_job' ORDER BY name"])
        self.assertEqual(
            sorted(re.findall(r"\S+", states)),
            sorted(f"{name}=installed" for name in [*ADDONS, "queue_job"]))
