# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""retail_day / retail_day_faults: a retailer's day against the simulators,
on a server with two workers and the queue_job runner (``./setup/suite day``).

The day (``scenario/day.py``) places orders from three channels, fulfils
them through the OMS simulator (split shipments, ship-from-store, pickup in
store), redeems and earns loyalty points, cancels some, returns some (in
another channel too), moves stock between the warehouse and a store,
invoices, imports/matches/posts the next morning's payout, and runs the
inventory snapshot; then it checks
the invariants. ``retail_day_faults`` runs it with the simulators' fault
injection on and the Odoo server (workers and job runner) stopped and
restarted in the middle. Size: ``RETAIL_DAY_ORDERS`` (default 200, 30 in
``--quick``).
"""

import base64
import os
import secrets
import time
import uuid

from .. import fixtures
from ..report import make_row
from . import measure

FAULTS = {"error_rate": 0.05, "burst_429": 3, "retry_after_s": 1, "latency_ms": 20,
          "latency_jitter_ms": 80, "timeout_rate": 0.01, "timeout_sleep_s": 4,
          "duplicate_rate": 0.1, "out_of_order": True, "out_of_order_hold_s": 0.5, "seed": 5}


def _size(ctx):
    return int(os.environ.get("RETAIL_DAY_ORDERS") or (30 if ctx.quick else 200))


@measure("retail_day", order=90, target=">= 1", unit="orders/day",
         description="a retailer's day end to end: orders per day the suite processes at "
                     "this pace / the day's orders (invariants must hold)")
def retail_day(ctx):
    return [_run(ctx, "retail_day", faults=False)]


@measure("retail_day_faults", order=91, target=">= 1", unit="orders/day",
         description="the same day with faults injected and the server restarted mid-day")
def retail_day_faults(ctx):
    return [_run(ctx, "retail_day_faults", faults=True)]


def _run(ctx, name, faults):
    from simulators.loyalty import LoyaltySimulator
    from simulators.oms import OmsSimulator
    from simulators.settlement import SettlementSimulator

    size = _size(ctx)
    api_key = "bench-" + uuid.uuid4().hex
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    with ctx.env() as env:
        fixtures.purge_leftovers(ctx, env)
        env.cr.commit()
    server = ctx.server(runner=True)
    sims = {}
    for sim_name, klass, extra in (("oms", OmsSimulator, {}),
                                   ("loyalty", LoyaltySimulator, {"currency": None}),
                                   ("settlement", SettlementSimulator, {})):
        sim = klass("127.0.0.1", port=0, api_key=api_key, webhook_secret=secret,
                    **{k: v for k, v in extra.items() if v})
        sim.start()
        ctx.cleanup.callback(sim.stop)
        sims[sim_name] = sim
    backend_ids = []
    try:
        with ctx.env() as env:
            from odoo.addons.retail_integration.scenario.day import RetailDay

            sims["loyalty"].update_config({"currency": env.company.currency_id.name})
            backends = {}
            for kind, sim in sims.items():
                values = {"settlement_since": "2026-01-01"} if kind == "settlement" else {}
                backend = env["retail.backend"].create(dict(
                    values, name=f"Bench day {kind}", kind=kind, base_url=sim.url,
                    auth_type="bearer", connect_timeout=2, read_timeout=5,
                    retry_max_attempts=15, retry_backoff_base=1, retry_backoff_max=8))
                backend.write({"api_key": api_key, "webhook_secret": secret})
                backends[kind] = backend
                backend_ids.append(backend.id)
                if kind == "settlement":
                    continue  # pays out, sends no webhooks
                sim.update_config({
                    "webhook_url": f"{server.base_url}/retail/webhook/{backend.id}",
                    "webhook_workers": 4, "webhook_timeout": 30,
                    # A real platform retries for hours: a restart must lose nothing.
                    "webhook_retry_delays": [1, 2, 4, 8, 15, 30, 60, 60, 60]})
            env.cr.commit()
            if not server.wait_log("queue job runner ready for db", timeout=60):
                raise RuntimeError(f"the queue_job runner did not report ready; see "
                                   f"{server.log_path}")
            restart = {"done": False, "drain_s": None}
            holder = {}

            def maybe_restart():
                """Once a third of the day's orders are fulfilled, with jobs still in
                flight, stop the whole server (workers and runner) and start it again."""
                if not faults or restart["done"] or not holder:
                    return
                env.cr.execute(
                    "SELECT count(*) FROM sale_order WHERE id = ANY(%s) "
                    "AND retail_oms_state = 'fulfilled'", [holder["day"].orders.ids])
                if env.cr.fetchone()[0] < size // 3:
                    return
                env.cr.execute("SELECT count(*) FROM queue_job WHERE state IN "
                               "('pending', 'enqueued', 'started')")
                restart["jobs_in_flight"] = env.cr.fetchone()[0]
                ctx.log(f"{name}: stopping the server (workers and job runner) mid-day, "
                        f"{restart['jobs_in_flight']} jobs in flight")
                ctx.stop_server()
                time.sleep(3)
                restarted = ctx.server(runner=True)
                restarted.wait_log("queue job runner ready for db", timeout=60)
                for kind, sim in sims.items():
                    if kind == "settlement":
                        continue
                    sim.update_config({"webhook_url": f"{restarted.base_url}/retail/webhook/"
                                                      f"{backends[kind].id}"})
                start = time.perf_counter()
                restart["done"] = True
                _wait_drained(ctx, env)
                restart["drain_s"] = round(time.perf_counter() - start, 2)
                ctx.log(f"{name}: restarted; queues drained in {restart['drain_s']} s")

            def run_jobs():
                env.cr.commit()
                _wait_drained(ctx, env, on_poll=maybe_restart)

            day = RetailDay(env, backends, {k: s.url for k, s in sims.items()}, run_jobs,
                            size=size, progress=lambda m: ctx.log(f"{name}: {m}"),
                            commit=env.cr.commit)
            holder["day"] = day
            day.prepare()
            env.cr.commit()
            if faults:
                for sim in sims.values():
                    sim.faults.update(dict(FAULTS))
            report = day.run()
            for sim in sims.values():
                sim.faults.update({"error_rate": 0.0, "burst_429": 0, "latency_ms": 0,
                                   "latency_jitter_ms": 0, "timeout_rate": 0.0,
                                   "duplicate_rate": 0.0, "out_of_order": False})
            day._drain("end of day")
            invariants = day.invariants()
            broken = {k: v[:5] for k, v in invariants.items() if v}
            seconds = sum(v for k, v in report["seconds"].items() if k != "day")
            per_day = size / seconds * 86400 if seconds else None
            by_class = {}
            for exchange in env["retail.exchange"].search(
                    [("backend_id", "in", backend_ids), ("state", "=", "failed")]):
                by_class[exchange.failure_class] = by_class.get(exchange.failure_class, 0) + 1
            detail = {
                "orders": size, "faults": FAULTS if faults else None,
                "seconds_per_step": report["seconds"], "day_seconds": round(seconds, 1),
                "orders_per_day_at_this_pace": round(per_day or 0),
                "restart": restart if faults else None,
                "fulfilled": report["fulfilled"], "cancelled": report["cancelled"],
                "returns": report["returns"],
                "refused_redemptions": report["refused_redemptions"],
                "loyalty_transactions": report["loyalty_transactions"],
                "settlement": report["settlement"],
                "flows": report["flows"], "exceptions": report["exceptions"],
                "exceptions_by_class": by_class,
                "invariants": {k: ("ok" if not v else f"{len(v)} problems")
                               for k, v in invariants.items()},
            }
            if broken:
                detail["error"] = f"invariants broken: {broken}"
                per_day = None
            env.cr.commit()
            ctx.log(f"{name}: {size} orders in {seconds:.1f} s; invariants "
                    f"{'hold' if not broken else broken}")
    finally:
        ctx.stop_server()
        with ctx.env() as env:
            env["queue.job"].search([("state", "!=", "done"),
                                     ("identity_key", "=like", "retail-%")]).unlink()
            env.cr.commit()
        ctx.purge_quietly(name, backend_ids)
    return make_row(name, per_day, size, ">= 1", "orders/day", detail)


def _wait_drained(ctx, env, timeout=900, on_poll=None):
    """Until no job is waiting or running and no message is pending."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        env.cr.commit()
        if on_poll:
            on_poll()
            env.cr.commit()
        env.cr.execute("""
            SELECT (SELECT count(*) FROM queue_job
                     WHERE state IN ('pending', 'enqueued', 'started')),
                   (SELECT count(*) FROM retail_exchange WHERE state IN ('pending', 'retry'))""")
        jobs, messages = env.cr.fetchone()
        if not jobs and not messages:
            env.invalidate_all()
            return True
        time.sleep(0.3)
    ctx.log(f"still {jobs} jobs and {messages} messages after {timeout} s")
    return False
