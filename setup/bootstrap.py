# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The suite's own Python environment: ``.venv`` in the repository.

Run by ``setup/suite`` with any Python 3.10-3.12 (standard library only),
before anything imports Odoo. It makes sure that ``.venv`` holds, in order:

1. Odoo's Python dependencies, from ``setup/requirements-odoo.txt``;
2. Odoo 18.0 Community itself, from ``ODOO_SOURCE`` (any pip-installable
   spec: a URL, an sdist, a wheel or a source folder), installed
   ``--no-deps`` so that step 1's pins are what it runs with;
3. the suite's requirements, test and lint tools, from
   ``setup/requirements.txt``.

Each step leaves a stamp in ``.venv/retail-setup.json``: a second run
installs nothing, and a changed pins file or ``ODOO_SOURCE`` re-runs only
its own step (the upgrade path). Nothing outside the clone is used: the
venv does not see the system's site-packages, so an Odoo installed by hand
elsewhere can neither help nor hide a missing step. Every failure ends in
one line on stderr and exit status 2.
"""

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, ".venv")
VENV_PY = os.path.join(VENV, "bin", "python")
STAMP = os.path.join(VENV, "retail-setup.json")
LOG = os.path.join(ROOT, ".run", "setup.log")
ODOO_PINS = os.path.join(ROOT, "setup", "requirements-odoo.txt")
SUITE_PINS = os.path.join(ROOT, "setup", "requirements.txt")
# The official source archive of the 18.0 nightly build.
DEFAULT_ODOO_SOURCE = "https://nightly.odoo.com/18.0/nightly/src/odoo_18.0.latest.tar.gz"
# Pure-Python packages that PyPI serves only as sdists; everything else must
# come as a wheel, so that a machine without a compiler installs the same.
SDIST_ONLY = "ofxparse,vobject,docopt"
NETWORK_ERRORS = re.compile(
    r"NewConnectionError|Failed to establish a new connection|Temporary failure in name "
    r"resolution|Name or service not known|Network is unreachable|ConnectTimeout|"
    r"Max retries exceeded|ProxyError|SSLError", re.I)


def say(message):
    print(f"[setup] {message}", flush=True)


def die(message):
    print(f"ERROR: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def odoo_source():
    """The Odoo source to install, and an identity that changes when it does.

    ``ODOO_SOURCE`` wins; without it the source of the last install stays
    (a later run never switches a working venv to a download), and a new
    venv takes the official nightly. A local path is resolved from the
    folder the command was run in (``setup/suite`` passes it on as
    ``RETAIL_SETUP_CWD``); its identity follows its content, so a rebuilt
    wheel at the same path is an upgrade too.
    """
    spec = os.environ.get("ODOO_SOURCE", "").strip()
    if not spec:
        spec = read_stamp().get("odoo_source") or DEFAULT_ODOO_SOURCE
    if "://" not in spec:
        base = os.environ.get("RETAIL_SETUP_CWD") or os.getcwd()
        path = os.path.abspath(os.path.join(base, os.path.expanduser(spec)))
        if not os.path.exists(path):
            die(f"ODOO_SOURCE={spec} does not exist (resolved to {path}).")
        if os.path.isdir(path):
            release = os.path.join(path, "odoo", "release.py")
            if not os.path.isfile(release):
                die(f"ODOO_SOURCE={spec} is a folder without odoo/release.py: not an Odoo "
                    "source tree.")
            # A git checkout is identified by its commit (a pull is an
            # upgrade even when release.py did not change); a plain folder
            # by its release file.
            commit = subprocess.run(["git", "-C", path, "rev-parse", "HEAD"], capture_output=True,
                                    text=True, check=False).stdout.strip() \
                if os.path.exists(os.path.join(path, ".git")) and shutil.which("git") else ""
            identity = f"dir:{path}:{commit or os.stat(release).st_mtime_ns}"
        else:
            stat = os.stat(path)
            identity = f"file:{path}:{stat.st_size}:{stat.st_mtime_ns}"
        return path, identity
    if os.environ.get("CI") == "true":
        die(f"CI never downloads Odoo, but ODOO_SOURCE is the URL {spec}: point it at a "
            "local wheel, sdist or source folder.")
    return spec, f"url:{spec}"


# --------------------------------------------------------------------- stamps

def read_stamp():
    try:
        with open(STAMP) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def write_stamp(stamp):
    tmp = STAMP + ".tmp"
    with open(tmp, "w") as handle:
        json.dump(stamp, handle, indent=2, sort_keys=True)
    os.replace(tmp, STAMP)


# ------------------------------------------------------------------------ pip

def pip(args, what):
    """Run pip in the venv, its output to .run/setup.log; one line on failure."""
    os.makedirs(os.path.dirname(LOG), exist_ok=True)
    started = time.monotonic()
    with open(LOG, "a") as log:
        log.write(f"\n$ pip {' '.join(args)}\n")
        log.flush()
        result = subprocess.run(
            [VENV_PY, "-m", "pip", *args, "--retries", "2", "--disable-pip-version-check",
             "--no-input"],
            stdout=log, stderr=subprocess.STDOUT, env=pip_env(), check=False)
    if result.returncode:
        with open(LOG, errors="replace") as handle:
            tail = handle.read()[-20000:]
        tail = tail[tail.rfind("\n$ pip "):]
        if NETWORK_ERRORS.search(tail):
            die(f"no network: pip could not reach the package index while installing {what} "
                "(details in .run/setup.log).")
        errors = [line.strip() for line in tail.splitlines() if line.startswith("ERROR")]
        reason = errors[-1] if errors else "see .run/setup.log"
        die(f"installing {what} failed: {reason[:300]} (full output in .run/setup.log).")
    return time.monotonic() - started


def pip_env():
    env = dict(os.environ)
    # Nothing from outside the venv may leak in (an Odoo on PYTHONPATH would
    # satisfy imports that the venv itself cannot).
    for name in ("PYTHONPATH", "PYTHONHOME", "PIP_USER", "PIP_REQUIRE_VIRTUALENV"):
        env.pop(name, None)
    return env


# ---------------------------------------------------------------------- steps

def ensure_venv(stamp):
    """.venv with a Python 3.10-3.12; a venv that no longer runs is rebuilt."""
    if os.path.exists(VENV_PY):
        have = subprocess.run(
            [VENV_PY, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True, text=True, check=False).stdout.strip()
        if have in ("3.10", "3.11", "3.12"):
            if stamp.get("python") != have:
                stamp = {"python": have}
                write_stamp(stamp)
            return stamp
        say(f".venv has Python {have or 'that does not run'}: recreating it")
        shutil.rmtree(VENV)
    say(f"creating .venv with Python {sys.version.split()[0]} ({sys.executable})")
    result = subprocess.run([sys.executable, "-m", "venv", VENV], capture_output=True,
                            text=True, check=False)
    if result.returncode or not os.path.exists(VENV_PY):
        shutil.rmtree(VENV, ignore_errors=True)
        reason = (result.stderr.strip().splitlines() or ["no output"])[-1]
        die(f"'{sys.executable} -m venv' failed ({reason}); on Debian install python3-venv.")
    stamp = {"python": "%d.%d" % sys.version_info[:2]}
    write_stamp(stamp)
    return stamp


def ensure_odoo_requirements(stamp):
    digest = sha256_file(ODOO_PINS)
    if stamp.get("odoo_requirements") == digest:
        return
    say("installing Odoo's Python dependencies (setup/requirements-odoo.txt, wheels only)")
    seconds = pip(["install", "--only-binary=:all:", f"--no-binary={SDIST_ONLY}",
                   "-r", ODOO_PINS], "Odoo's Python dependencies")
    say(f"  done in {seconds:.0f} s")
    stamp["odoo_requirements"] = digest
    write_stamp(stamp)


ODOO_CHECK = """
import json, os, odoo.release as r
addons = os.path.join(os.path.dirname(r.__file__), 'addons')
print(json.dumps({'version_info': list(r.version_info[:2]), 'serie': r.serie,
                  'edition': r.version_info[5], 'version': r.version,
                  'path': os.path.dirname(os.path.realpath(r.__file__)),
                  'enterprise': os.path.isdir(os.path.join(addons, 'web_enterprise'))}))
"""


def installed_odoo():
    result = subprocess.run([VENV_PY, "-c", ODOO_CHECK], capture_output=True, text=True,
                            env=pip_env(), cwd=VENV, check=False)
    if result.returncode:
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])


def ensure_odoo(stamp, force=False):
    source, identity = odoo_source()
    if stamp.get("odoo_identity") == identity and not force and installed_odoo():
        return
    say(f"installing Odoo from {source}")
    seconds = pip(["install", "--no-deps", "--force-reinstall", source],
                  f"Odoo from ODOO_SOURCE={source}")
    info = installed_odoo()
    if not info or info["version_info"] != [18, 0] or info["edition"] or info["enterprise"]:
        found = (f"Odoo {info['version']}{' Enterprise' if info['edition'] or info['enterprise'] else ''}"
                 if info else "no importable odoo package")
        subprocess.run([VENV_PY, "-m", "pip", "uninstall", "-y", "-q", "odoo"],
                       capture_output=True, check=False)
        stamp.pop("odoo_identity", None)
        write_stamp(stamp)
        die(f"ODOO_SOURCE={source} is not Odoo 18.0 Community (it installed {found}).")
    if not info["path"].startswith(os.path.realpath(VENV) + os.sep):
        die(f"Odoo imports from {info['path']}, outside .venv: remove it from PYTHONPATH.")
    say(f"  Odoo {info['version']} installed in {seconds:.0f} s")
    stamp.update(odoo_source=source, odoo_identity=identity, odoo_version=info["version"])
    write_stamp(stamp)


def ensure_suite_requirements(stamp):
    digest = sha256_file(SUITE_PINS)
    if stamp.get("suite_requirements") == digest:
        return
    say("installing the suite's requirements, test and lint tools (setup/requirements.txt)")
    seconds = pip(["install", "--only-binary=:all:", "-r", SUITE_PINS],
                  "the suite's requirements")
    say(f"  done in {seconds:.0f} s")
    stamp["suite_requirements"] = digest
    write_stamp(stamp)


@contextlib.contextmanager
def locked():
    """One set-up at a time per clone (two commands started together wait)."""
    os.makedirs(os.path.join(ROOT, ".run"), exist_ok=True)
    with open(os.path.join(ROOT, ".run", "setup.lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def main():
    if not (3, 10) <= sys.version_info[:2] <= (3, 12):
        die(f"the suite needs Python 3.10, 3.11 or 3.12 to create .venv; {sys.executable} "
            f"is {sys.version.split()[0]}.")
    force_odoo = "--upgrade-odoo" in sys.argv[1:]
    started = time.monotonic()
    with locked():
        stamp = ensure_venv(read_stamp())
        before = dict(stamp)
        ensure_odoo_requirements(stamp)
        ensure_odoo(stamp, force=force_odoo)
        ensure_suite_requirements(stamp)
    if stamp != before:
        say(f".venv ready in {time.monotonic() - started:.0f} s: Odoo "
            f"{stamp.get('odoo_version')}, Python {stamp['python']}")


if __name__ == "__main__":
    main()
