# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Set up, start, test and benchmark the suite (run through ./setup/suite).

Everything it creates lives under ``.run/`` in the repository (ignored by
git): an addons folder of symlinks (so that the root meta-module is found
as ``retail_integration`` whatever the clone's folder is called), the Odoo
configuration, the encryption key, the filestore and the logs.
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATE = os.path.join(ROOT, ".run")
ADDONS = os.path.join(STATE, "addons")
ADDON_NAMES = ["retail_integration_base", "retail_oms_connector",
               "retail_loyalty_connector", "retail_settlement"]
META = "retail_integration"
# Test-only addons (OCA's test_queue_job way): linked for every server, but
# installed only into the test database.
TEST_ADDONS = ["test_retail_connector"]
TEST_DB = os.environ.get("RETAIL_TEST_DB", "retail_integration_test")
DEMO_DB = os.environ.get("RETAIL_DEMO_DB", "retail_integration_demo")
BENCH_DB = os.environ.get("RETAIL_BENCH_DB", "retail_integration_bench")
PY = sys.executable
def say(message):
    print(f"[suite] {message}", flush=True)


def die(message, code=2):
    print(f"ERROR: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


def run(cmd, check=True, **kw):
    return subprocess.run(cmd, check=check, **kw)


# ----------------------------------------------------------------- environment

def ensure_venv_odoo():
    """The suite runs only on the Odoo of the clone's .venv (setup/bootstrap.py
    installed it): one that lingers elsewhere on the machine must not be
    what a test or CI run exercises."""
    import odoo
    venv = os.path.realpath(os.path.join(ROOT, ".venv")) + os.sep
    where = os.path.realpath(os.path.dirname(odoo.__file__))
    if not ((os.path.realpath(sys.prefix) + os.sep).startswith(venv) and where.startswith(venv)):
        die(f"Odoo must come from {venv}, but {PY} imports it from {where}: run "
            "./setup/suite, which uses the clone's .venv.")
    return where


def ensure_chromium():
    if any(shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        say("installing Debian's chromium for the browser tests")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        run(["apt-get", "update", "-qq"], check=False, env=env)
        run(["apt-get", "install", "-y", "-qq", "chromium"], check=False, env=env,
            stdout=subprocess.DEVNULL)
    if not shutil.which("chromium"):
        die("Chromium is missing and could not be installed: install the 'chromium' "
            "package (browser tests need it).")


def pg_ok():
    return run(["psql", "-d", "postgres", "-Atqc", "select 1"], check=False,
               capture_output=True).returncode == 0


def ensure_postgres():
    if not shutil.which("psql"):
        die("PostgreSQL client tools are missing: install PostgreSQL (e.g. apt-get install "
            "postgresql) and retry.")
    if pg_ok():
        return
    if shutil.which("pg_ctlcluster") and os.path.isdir("/etc/postgresql"):
        for version in sorted(os.listdir("/etc/postgresql"), reverse=True):
            say(f"starting PostgreSQL {version}")
            run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
                check=False)
            for _i in range(30):
                if pg_ok():
                    break
                time.sleep(1)
            break
    if not pg_ok() and os.geteuid() == 0:
        # The server runs but this user has no role yet.
        user = os.environ.get("USER") or "root"
        run(["su", "postgres", "-c", f"createuser -s {user}"], check=False,
            capture_output=True)
    if not pg_ok():
        die("PostgreSQL is not reachable through its local socket: start it and make sure "
            "this user may create databases.")


def ensure_addons_dir():
    os.makedirs(ADDONS, exist_ok=True)
    links = {META: ROOT, **{name: os.path.join(ROOT, name) for name in ADDON_NAMES + TEST_ADDONS}}
    for name, target in links.items():
        path = os.path.join(ADDONS, name)
        if os.path.islink(path) and os.readlink(path) == target:
            continue
        if os.path.lexists(path):
            os.remove(path)
        os.symlink(target, path)


def encryption_key():
    if os.environ.get("RETAIL_INTEGRATION_KEY"):
        return os.environ["RETAIL_INTEGRATION_KEY"]
    path = os.path.join(STATE, "retail_integration.key")
    if not os.path.exists(path):
        from cryptography.fernet import Fernet
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(Fernet.generate_key().decode())
    with open(path) as handle:
        return handle.read().strip()


def write_config(name, http_port, workers=0, extra=None):
    import odoo.addons
    paths = [ADDONS] + [p for p in odoo.addons.__path__ if os.path.isdir(p)]
    lines = [
        "[options]",
        f"addons_path = {','.join(dict.fromkeys(paths))}",
        "db_host = False",
        "db_port = False",
        f"data_dir = {os.path.join(STATE, 'data')}",
        "admin_passwd = admin",
        f"http_port = {http_port}",
        "http_interface = 127.0.0.1",
        f"workers = {workers}",
        "max_cron_threads = 1",
        "limit_time_real = 600",
        "limit_time_cpu = 300",
        "server_wide_modules = base,web,queue_job",
        "list_db = False",
        f"retail_integration_key = {encryption_key()}",
        "",
        "[queue_job]",
        # Jobs run in the HTTP workers: one worker stays free for webhooks and
        # users (a busy intake makes partners time out and resend).
        f"channels = root:{max(1, workers - 1)},root.retail:{max(1, workers - 1)},"
        "root.retail.oms:4,root.retail.loyalty:2,root.retail.settlement:1",
    ]
    extra = dict(extra or {})
    if workers:
        # Odoo's websocket port defaults to 8072, the loyalty simulator's port.
        extra.setdefault("gevent_port", free_port(http_port + 10))
    for key, value in extra.items():
        lines.insert(1, f"{key} = {value}")
    path = os.path.join(STATE, f"{name}.conf")
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)
    return path


def prepare():
    where = ensure_venv_odoo()
    import odoo.release
    say(f"Odoo {odoo.release.version} from {os.path.relpath(where, ROOT)}, "
        f"Python {sys.version.split()[0]}")
    os.makedirs(STATE, exist_ok=True)
    ensure_postgres()
    ensure_addons_dir()


def odoo_cmd(config, *args):
    return [PY, os.path.join(ROOT, "setup", "odoo_server.py"), "-c", config, *args]


def db_exists(name):
    out = run(["psql", "-d", "postgres", "-Atqc",
               f"select 1 from pg_database where datname = '{name}'"],
              capture_output=True, text=True).stdout.strip()
    return out == "1"


def drop_db(name):
    run(["dropdb", "--if-exists", name], check=False)
    shutil.rmtree(os.path.join(STATE, "data", "filestore", name), ignore_errors=True)


def install_db(config, name, demo, log_name, modules=(META,)):
    say(f"creating database {name} and installing the suite ({'with' if demo else 'without'} "
        "demo data); log in .run/" + log_name)
    args = ["-d", name, "-i", ",".join(modules), "--stop-after-init", "--log-level=warn",
            f"--logfile={os.path.join(STATE, log_name)}"]
    if not demo:
        args.append("--without-demo=all")
    result = run(odoo_cmd(config, *args), check=False)
    if result.returncode:
        os.system(f"tail -40 {os.path.join(STATE, log_name)}")
        die(f"installing the suite into {name} failed (see .run/{log_name}).", 1)


def update_db(config, name, log_name, modules=(META,)):
    say(f"reusing database {name}, updating the suite's modules")
    # -i as well: a module added since the database was made gets installed.
    result = run(odoo_cmd(config, "-d", name, "-i", ",".join(modules),
                          "-u", ",".join([*ADDON_NAMES, *modules]),
                          "--stop-after-init", "--log-level=warn",
                          f"--logfile={os.path.join(STATE, log_name)}"), check=False)
    if result.returncode:
        die(f"updating the suite in {name} failed (see .run/{log_name}).", 1)


def ensure_db(config, name, demo, reset, log_name, modules=(META,)):
    """A database with the suite: created fresh, or reused and updated."""
    if reset or not db_exists(name):
        drop_db(name)
        install_db(config, name, demo=demo, log_name=log_name, modules=modules)
        return True
    update_db(config, name, log_name, modules=modules)
    return False


def free_port(preferred):
    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", preferred)) != 0:
            return preferred
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -------------------------------------------------------------------- commands

def cmd_lint(_args):
    say("lint: ruff")
    rc = run([PY, "-m", "ruff", "check", ROOT], check=False).returncode
    say("lint: pylint-odoo")
    targets = [os.path.join(ROOT, n) for n in ADDON_NAMES + TEST_ADDONS]
    rc |= run([PY, "-m", "pylint", f"--rcfile={os.path.join(ROOT, '.pylintrc')}",
               *targets], check=False).returncode
    if rc:
        die("lint failed (fix the findings above).", 1)
    say("lint passed")


def cmd_test(args):
    prepare()
    ensure_chromium()
    if not args.no_lint:
        cmd_lint(args)
    config = write_config("test", free_port(8169))
    ensure_db(config, TEST_DB, demo=False, reset=not args.keep_db, log_name="test-install.log",
              modules=(META, *TEST_ADDONS))
    paths = [os.path.join(ADDONS, n, "tests") for n in [*ADDON_NAMES, *TEST_ADDONS, META]]
    paths.append(os.path.join(ADDONS, META, "simulators", "tests"))
    paths = [p for p in paths if os.path.isdir(p)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, "setup")]))
    cmd = [PY, "-m", "pytest", "-p", "pytest_suite", "--odoo-config", config,
           "--odoo-database", TEST_DB, "--odoo-http", "--odoo-log-level=warn",
           "-rfEs", "-q", "-o", "cache_dir=" + os.path.join(STATE, "pytest_cache"),
           *args.pytest_args, *([] if args.pytest_args else paths)]
    say("running the tests: " + " ".join(cmd[3:]))
    sys.exit(run(cmd, check=False, env=env, cwd=ROOT).returncode)


# The demo's simulators: name, demo backend, default port offset from
# --simulator-port, extra options. Each gets its own state file and log.
DEMO_SIMULATORS = [
    ("oms", "retail_oms_connector.retail_backend_oms_demo", 0, ["--auto-fulfil"]),
    ("loyalty", "retail_loyalty_connector.retail_backend_loyalty_demo", 1,
     ["--currency", "{currency}"]),
    ("settlement", "retail_settlement.retail_backend_settlement_demo", 2, []),
]


def cmd_start(args):
    prepare()
    port = free_port(args.port)
    config = write_config("demo", port, workers=args.workers)
    ports = {name: free_port(args.simulator_port + offset)
             for name, _xmlid, offset, _extra in DEMO_SIMULATORS}
    states = {name: os.path.join(STATE, f"{name}-simulator-state.json")
              for name in ports}
    if ensure_db(config, DEMO_DB, demo=True, reset=args.reset, log_name="demo-install.log"):
        for path in states.values():  # a new database starts with empty partners
            if os.path.exists(path):
                os.remove(path)
    env = dict(os.environ, PYTHONPATH=ROOT)
    targets = [f"{xmlid}=http://127.0.0.1:{ports[name]}"
               for name, xmlid, _offset, _extra in DEMO_SIMULATORS]
    lines = run(
        [PY, os.path.join(ROOT, "setup", "configure_demo.py"), config, DEMO_DB,
         f"http://127.0.0.1:{port}", *targets],
        check=True, capture_output=True, text=True, env=env).stdout.strip().splitlines()
    answers = dict(line.split(" ", 1) for line in lines
                   if line.startswith(("backend:", "currency:")))
    simulators = []
    for name, xmlid, _offset, extra in DEMO_SIMULATORS:
        api_key, secret, backend_id = answers[f"backend:{xmlid}"].split()
        sim_log = open(os.path.join(STATE, f"{name}-simulator.log"), "w")
        simulators.append(subprocess.Popen(
            [PY, "-m", f"simulators.{name}", "--port", str(ports[name]), "--api-key", api_key,
             "--webhook-url", f"http://127.0.0.1:{port}/retail/webhook/{backend_id}",
             "--webhook-secret", secret, "--state-file", states[name],
             *[arg.format(currency=answers["currency:"].strip()) for arg in extra]],
            cwd=ROOT, env=env, stdout=sim_log, stderr=subprocess.STDOUT))
        say(f"{name} simulator on http://127.0.0.1:{ports[name]} "
            f"(log .run/{name}-simulator.log)")
    odoo_proc = subprocess.Popen(odoo_cmd(config, "-d", DEMO_DB, "--db-filter", f"^{DEMO_DB}$",
                                          f"--logfile={os.path.join(STATE, 'odoo.log')}"))
    print(f"\n  Retail Integration suite: http://127.0.0.1:{port}/odoo/action-"
          "retail_integration_base.retail_flow_action_dashboard\n"
          "  Login: admin   Password: admin\n"
          "  Odoo log: .run/odoo.log   Stop: Ctrl+C\n"
          "  A retailer's day against the simulators, with its invariants checked:\n"
          "    ./setup/suite day [--orders 200] [--faults]\n", flush=True)

    def stop(*_a):
        for proc in (odoo_proc, *simulators):
            if proc.poll() is None:
                proc.terminate()
    signal.signal(signal.SIGTERM, stop)
    try:
        odoo_proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop()
        for proc in simulators:
            proc.wait(10)


def cmd_bench(args):
    prepare()
    config = write_config("bench", free_port(8269), workers=2)
    ensure_db(config, BENCH_DB, demo=False, reset=args.reset, log_name="bench-install.log")
    env = dict(os.environ, PYTHONPATH=ROOT)
    cmd = [PY, os.path.join(ROOT, "benchmarks", "run.py"), "--config", config,
           "--database", BENCH_DB, "--output", args.output, *args.bench_args]
    sys.exit(run(cmd, check=False, env=env, cwd=ROOT).returncode)


def cmd_day(args):
    """A retailer's day on a 2-worker server with the job runner, against the
    simulators, ending with the invariants (benchmarks/measures/retail_day.py)."""
    os.environ["RETAIL_DAY_ORDERS"] = str(args.orders)
    args.reset = False
    args.bench_args = ["--only", "retail_day_faults" if args.faults else "retail_day"]
    cmd_bench(args)


def main():
    parser = argparse.ArgumentParser(prog="setup/suite", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("setup", help="only set up .venv (Odoo, its dependencies, the suite's "
                                     "requirements); every other command does it first")
    p.add_argument("--upgrade-odoo", action="store_true",
                   help="reinstall Odoo from ODOO_SOURCE even if it did not change "
                        "(a newer nightly at the same URL)")
    p.set_defaults(func=lambda a: say("set-up done: " + ensure_venv_odoo()))
    p = sub.add_parser("start", help="set up if needed and start Odoo with demo backends "
                                     "and the simulators")
    p.add_argument("--port", type=int, default=8069)
    p.add_argument("--simulator-port", type=int, default=8071,
                   help="port of the OMS simulator; the loyalty and settlement simulators "
                        "take the next two")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--reset", action="store_true", help="recreate the demo database")
    p.set_defaults(func=cmd_start)
    p = sub.add_parser("test", help="lint, then run every test on a fresh database")
    p.add_argument("--no-lint", action="store_true")
    p.add_argument("--keep-db", action="store_true",
                   help="reuse the test database (its modules are updated)")
    p.add_argument("pytest_args", nargs="*", help="extra pytest arguments / paths")
    p.set_defaults(func=cmd_test)
    p = sub.add_parser("bench", help="run the benchmarks, print ratios, write JSON")
    p.add_argument("--reset", action="store_true")
    p.add_argument("--output", default=os.path.join(ROOT, "bench-results.json"))
    p.set_defaults(func=cmd_bench, bench_args=[])
    p = sub.add_parser("day", help="play a retailer's day against the simulators and check "
                                   "the suite's invariants")
    p.add_argument("--orders", type=int, default=200, help="orders in the day (default 200)")
    p.add_argument("--faults", action="store_true",
                   help="fault injection on, and the server restarted in the middle of the day")
    p.add_argument("--output", default=os.path.join(STATE, "day-results.json"))
    p.set_defaults(func=cmd_day)
    p = sub.add_parser("lint", help="ruff and pylint-odoo")
    p.set_defaults(func=lambda a: (prepare(), cmd_lint(a)))
    argv = sys.argv[1:]
    passthrough = []
    if argv and argv[0] == "bench":
        # Everything but the suite's own options goes to benchmarks/run.py,
        # in its order (e.g. "bench --only inventory_sync --quick").
        own, rest = ["bench"], argv[1:]
        while rest:
            arg = rest.pop(0)
            if arg in ("--reset", "-h", "--help"):
                own.append(arg)
            elif arg == "--output" and rest:
                own += [arg, rest.pop(0)]
            elif arg != "--":
                passthrough.append(arg)
        argv = own
    args = parser.parse_args(argv)
    if args.command == "bench":
        args.bench_args = passthrough
    args.func(args)


if __name__ == "__main__":
    main()
