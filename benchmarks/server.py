# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""An Odoo server subprocess for the HTTP benchmarks (loopback only).

Started from the benchmark's configuration file in its own process group,
health-checked on ``/web/health``, always stopped by :meth:`OdooServer.stop`
(SIGTERM to the master, then SIGKILL to its group if it lingers).
"""

import http.client
import os
import signal
import socket
import subprocess
import sys
import time

HOST = "127.0.0.1"
LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "odoo_launcher.py")


def port_is_free(port, host=HOST):
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host=HOST):
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def http_get_status(port, path, timeout=2.0):
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


class ServerError(RuntimeError):
    pass


class OdooServer:
    """``odoo -c CONFIG -d DB --db-filter ^DB$`` (through ``odoo_launcher.py``).

    ``runner=False`` starts it with the queue_job runner off
    (``ODOO_QUEUE_JOB_CHANNELS=root:0``), everything else being equal.
    """

    def __init__(self, config, database, http_port, log_path, runner=True, extra_args=()):
        self.config = config
        self.database = database
        self.http_port = http_port
        self.gevent_port = free_port()
        self.log_path = log_path
        self.runner = runner
        self.extra_args = list(extra_args)
        self.proc = None
        self._log_handle = None

    @property
    def base_url(self):
        return f"http://{HOST}:{self.http_port}"

    def command(self):
        return [
            sys.executable, LAUNCHER, "-c", self.config, "-d", self.database,
            "--db-filter", f"^{self.database}$",
            "--http-interface", HOST, "--http-port", str(self.http_port),
            "--gevent-port", str(self.gevent_port), f"--logfile={self.log_path}",
            *self.extra_args,
        ]

    def start(self, timeout=120):
        if not port_is_free(self.http_port):
            raise ServerError(f"port {self.http_port} on {HOST} is already in use")
        env = dict(os.environ)
        if self.runner:
            env.pop("ODOO_QUEUE_JOB_CHANNELS", None)  # the config file's channels
        else:
            env["ODOO_QUEUE_JOB_CHANNELS"] = "root:0"
        if os.path.exists(self.log_path):
            os.unlink(self.log_path)
        self._log_handle = open(self.log_path + ".stdout", "w")
        self.proc = subprocess.Popen(
            self.command(), env=env, stdin=subprocess.DEVNULL, stdout=self._log_handle,
            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(
                    f"the Odoo server exited with status {self.proc.returncode} while "
                    f"starting; see {self.log_path}")
            try:
                if http_get_status(self.http_port, "/web/health") == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.25)
        raise ServerError(f"the Odoo server did not answer /web/health within {timeout} s; "
                          f"see {self.log_path}")

    def wait_log(self, text, timeout=60):
        """Wait until ``text`` appears in the server log; return True if it did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with open(self.log_path, encoding="utf-8", errors="replace") as handle:
                    if text in handle.read():
                        return True
            except OSError:
                pass
            if self.proc is None or self.proc.poll() is not None:
                return False
            time.sleep(0.25)
        return False

    def log_tail(self, lines=20):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as handle:
                return "".join(handle.readlines()[-lines:])
        except OSError:
            return ""

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=30):
        """Stop the server and its workers; safe to call more than once."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                # Still not reaped, so its pid is still the id of the group
                # it was started in: take the workers down with it.
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    proc.kill()
                proc.wait(10)
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None
