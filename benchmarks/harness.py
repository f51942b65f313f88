# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""What every measure gets: the in-process ORM, the server, clean-up, logging."""

import contextlib
import os
import signal
import time

from .server import OdooServer, free_port, port_is_free


class BenchContext:
    """Shared state of one benchmark run (passed to every measure as ``ctx``).

    * ``ctx.quick``: smoke run, use small counts and short durations;
    * ``ctx.log(message)``: a progress line;
    * ``ctx.env()``: context manager giving a superuser ``odoo.api.Environment``
      on a new cursor of the in-process registry (commit it yourself);
    * ``ctx.server(runner=True)``: the running Odoo server (started, or
      restarted in the other mode, on demand), stopped at the end;
    * ``ctx.cleanup``: an ``ExitStack``; callbacks pushed there run at the
      end of the run, even on error.
    """

    def __init__(self, config, database, quick=False, verbose=False):
        self.config = os.path.abspath(config)
        self.database = database
        self.quick = quick
        self.verbose = verbose
        self.cleanup = contextlib.ExitStack()
        self.state_dir = os.path.dirname(self.config)
        self._registry = None
        self._server = None
        self._started = time.monotonic()

    # ------------------------------------------------------------- messages

    def log(self, message):
        print(f"[bench {time.monotonic() - self._started:7.1f}s] {message}", flush=True)

    # ------------------------------------------------------------------ ORM

    @property
    def registry(self):
        if self._registry is None:
            import odoo
            from odoo.modules.registry import Registry
            odoo.tools.config.parse_config(
                ["-c", self.config, "-d", self.database,
                 "--log-level", "info" if self.verbose else "warn"])
            self.log(f"loading the registry of {self.database} in process")
            self._registry = Registry(self.database)
        return self._registry

    @contextlib.contextmanager
    def env(self, context=None):
        import odoo
        with self.registry.cursor() as cr:
            yield odoo.api.Environment(cr, odoo.SUPERUSER_ID, dict(context or {}))

    def option(self, name, default=None):
        import odoo
        self.registry  # noqa: B018  (parses the configuration)
        return odoo.tools.config.get(name, default)

    def purge_quietly(self, label, backend_ids):
        """Purge bench backends at the end of a measure, never raising.

        Runs in ``finally`` blocks: a failure here must not hide the error
        (or the SIGTERM) being handled; leftovers are purged by the next run.
        """
        from . import fixtures
        if not backend_ids:
            return None
        try:
            with self.env() as env:
                purged = fixtures.purge_backends(env, env["retail.backend"].browse(backend_ids))
            self.log(f"{label}: cleaned up {purged}")
            return purged
        except Exception as exc:
            self.log(f"{label}: clean-up failed ({type(exc).__name__}: {exc}); the next run "
                     "purges the leftovers")
            return None

    def misc_option(self, section, name, default=None):
        """An option of another section of the configuration file ([queue_job]...)."""
        import odoo
        self.registry  # noqa: B018  (parses the configuration)
        return odoo.tools.config.misc.get(section, {}).get(name, default)

    # --------------------------------------------------------------- server

    def server(self, runner=True):
        """The benchmark server, in the asked mode (restarted if needed)."""
        if self._server is not None and self._server.running() and self._server.runner == runner:
            return self._server
        self.stop_server()
        self._stop_stale_server()
        port = int(self.option("http_port") or 8269)
        if not port_is_free(port):
            port = free_port()
        log_path = os.path.join(
            self.state_dir, f"bench-odoo-{'runner' if runner else 'norunner'}.log")
        server = OdooServer(self.config, self.database, port, log_path, runner=runner)
        self.log(f"starting Odoo on 127.0.0.1:{port} (workers from the config, queue_job "
                 f"runner {'on' if runner else 'off'}); log {log_path}")
        self._server = server
        try:
            server.start()
        except Exception:
            self.stop_server()
            raise
        with open(self.pid_file, "w") as handle:
            handle.write(f"{server.proc.pid}\n")
        self.log(f"Odoo answers /web/health (pid {server.proc.pid})")
        return server

    def stop_server(self):
        server, self._server = self._server, None
        if server is not None:
            self.log("stopping Odoo")
            server.stop()
            if os.path.exists(self.pid_file):
                os.unlink(self.pid_file)

    @property
    def pid_file(self):
        return os.path.join(self.state_dir, f"bench-odoo-{self.database}.pid")

    def _stop_stale_server(self):
        """Stop a benchmark server left running by a run that was killed.

        Only the process recorded in our pid file, and only if its command
        line is still that of a benchmark server of this database.
        """
        try:
            with open(self.pid_file) as handle:
                pid = int(handle.read().strip())
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                cmdline = handle.read().decode(errors="replace").split("\0")
        except (OSError, ValueError):
            return
        finally:
            if os.path.exists(self.pid_file):
                os.unlink(self.pid_file)
        if any(arg.endswith("odoo_launcher.py") for arg in cmdline) and self.database in cmdline:
            self.log(f"stopping the benchmark server left by a previous run (pid {pid})")
            os.kill(pid, signal.SIGTERM)
            for _i in range(120):
                if not os.path.exists(f"/proc/{pid}"):
                    break
                time.sleep(0.25)

    def close(self):
        """Run the clean-up callbacks and stop the server, whatever happens."""
        try:
            self.cleanup.close()
        finally:
            self.stop_server()
