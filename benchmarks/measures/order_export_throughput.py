# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""order_export_throughput: orders exported through queue_job vs orders confirmed."""

import time
import uuid

from .. import fixtures
from ..report import make_row
from . import measure

NAME = "order_export_throughput"
TARGET = ">= 2"
UNIT = "orders/s"
FLOW = "oms_order_export"
POLL_SECONDS = 0.1
CACHE_BATCH = 20


def _states(registry, backend_id):
    """Exchange states of the backend and running jobs, read in a fresh transaction."""
    with registry.cursor() as cr:
        cr.execute("SELECT state, count(*) FROM retail_exchange WHERE backend_id = %s "
                   "GROUP BY state", [backend_id])
        states = dict(cr.fetchall())
        cr.execute("SELECT count(*) FROM queue_job WHERE state = 'started' "
                   "AND model_name = 'retail.exchange'")
        started = cr.fetchone()[0]
    return states, started


def _wait_done(ctx, backend_id, total, timeout):
    """Poll until ``total`` exchanges are done (or one failed, or timeout).

    Returns (seconds, final states, the highest count of jobs seen running).
    """
    start = time.monotonic()
    deadline = start + timeout
    max_started, last_log = 0, start
    states = {}
    while True:
        states, started = _states(ctx.registry, backend_id)
        now = time.monotonic()
        max_started = max(max_started, started)
        if states.get("done", 0) >= total:
            return now - start, states, max_started
        if states.get("failed") or now >= deadline:
            return None, states, max_started
        if now - last_log >= 5:
            ctx.log(f"{NAME}: {states.get('done', 0)}/{total} done after {now - start:.1f} s "
                    f"({started} jobs running)")
            last_log = now
        time.sleep(POLL_SECONDS)


def _job_stats(env, backend):
    ids = fixtures.exchange_ids(env, backend)
    env.cr.execute("""
        SELECT count(*), avg(exec_time), max(exec_time),
               avg(EXTRACT(EPOCH FROM date_started - date_enqueued)),
               count(*) FILTER (WHERE retry > 1), array_agg(DISTINCT channel),
               array_agg(DISTINCT state)
          FROM queue_job WHERE """ + fixtures.JOBS_OF_EXCHANGES, [ids or [0]])
    count, avg_exec, max_exec, avg_wait, retried, channels, states = env.cr.fetchone()
    env.cr.execute("SELECT avg(duration_ms), max(duration_ms) FROM retail_exchange "
                   "WHERE id = ANY(%s)", [ids or [0]])
    avg_http, max_http = env.cr.fetchone()
    return {
        "jobs": count, "job_exec_avg_ms": _ms(avg_exec), "job_exec_max_ms": _ms(max_exec),
        "job_wait_enqueued_to_started_avg_ms": _ms(avg_wait), "jobs_retried": retried,
        "job_channels": channels, "job_states": states,
        "http_call_avg_ms": round(float(avg_http or 0), 1), "http_call_max_ms": max_http,
    }


def _ms(seconds):
    return None if seconds is None else round(float(seconds) * 1000.0, 1)


@measure(NAME, order=30, target=TARGET, unit=UNIT,
         description="orders exported to the OMS simulator by the job runner per second / "
                     "orders confirmed per second in process")
def order_export_throughput(ctx):
    total, warm, timeout = (40, 3, 120.0) if ctx.quick else (300, 6, 600.0)
    api_key = "bench-" + uuid.uuid4().hex
    with ctx.env() as env:
        fixtures.purge_leftovers(ctx, env)
        env.cr.commit()
    server = ctx.server(runner=True)
    sim = fixtures.start_oms_simulator(ctx, api_key, NAME)
    backend_id = None
    try:
        with ctx.env() as env:
            products = fixtures.ensure_products(env)
            customer = fixtures.ensure_customer(env)
            backend = env["retail.backend"].create({
                "name": "Bench OMS export", "kind": "oms", "base_url": sim.url,
                "auth_type": "bearer",
            })
            backend.write({"api_key": api_key})
            backend_id = backend.id
            flow = backend._get_flow(FLOW)
            flow_info = {"code": flow.code, "channel": flow.channel, "active": flow.active}
            other_oms = env["retail.backend"].search_count(
                [("kind", "=", "oms"), ("id", "!=", backend.id)])
            env.cr.commit()

            if not server.wait_log("queue job runner ready for db", timeout=60):
                raise RuntimeError("the queue_job runner did not report ready; see "
                                   f"{server.log_path}")
            # Warm-up: proves the pipeline and loads the workers' registries.
            orders = fixtures.create_orders(env, warm, products, customer, "BENCH-EXPORT-WARM")
            orders.action_confirm()
            env.cr.commit()
            seconds, states, _running = _wait_done(ctx, backend_id, warm, 120.0)
            if seconds is None:
                raise RuntimeError(f"warm-up exports did not complete: {states}; see "
                                   f"{server.log_path}")
            ctx.log(f"{NAME}: warm-up of {warm} orders exported in {seconds:.1f} s")

            orders = fixtures.create_orders(env, total, products, customer, "BENCH-EXPORT")
            names = set(orders.mapped("name"))
            env.cr.commit()
            env.invalidate_all()
            ctx.log(f"{NAME}: confirming {total} orders in process (one commit at the end, "
                    "so the runner sees them all at once)")
            start = time.perf_counter()
            for index, order in enumerate(orders, 1):
                order.action_confirm()
                if index % CACHE_BATCH == 0:
                    # As in confirm_overhead: keep the ORM cache of this one
                    # long transaction from growing with every order.
                    env.flush_all()
                    env.invalidate_all()
            env.flush_all()
            env.cr.commit()
            confirm_seconds = time.perf_counter() - start
        confirm_rate = total / confirm_seconds
        ctx.log(f"{NAME}: confirmed {total} orders in {confirm_seconds:.2f} s "
                f"({confirm_rate:.1f}/s); waiting for the exports")
        seconds, states, max_running = _wait_done(ctx, backend_id, warm + total, timeout)
        state = sim.state()
        sim_refs = set(state["orders"])
        counters = state.get("counters", {})
        with ctx.env() as env:
            stats = _job_stats(env, env["retail.backend"].browse(backend_id))
        detail = {
            "orders": total, "warmup_orders": warm, "confirm_seconds": round(confirm_seconds, 3),
            "confirm_ms_per_order": round(confirm_seconds * 1000.0 / total, 2),
            "export_seconds": round(seconds, 3) if seconds is not None else None,
            "exchange_states": states,
            "sim_orders_created": state.get("orders_created"),
            "sim_post_orders_calls": counters.get("POST /v1/orders"),
            "sim_statuses": state.get("status_counters"),
            "sim_holds_exactly_the_orders": names <= sim_refs and len(sim_refs) == warm + total
            and state.get("orders_created") == warm + total,
            "max_jobs_running_seen": max_running,
            "flow": flow_info, "other_oms_backends": other_oms,
            "runner_channels": ctx.misc_option("queue_job", "channels"),
            **stats,
        }
        if seconds is None:
            detail["error"] = (f"exports incomplete after {timeout:.0f} s: {states} "
                               f"(see {server.log_path})")
            export_rate = None
        else:
            export_rate = total / seconds
        ctx.log(f"{NAME}: simulator holds {len(sim_refs)} orders "
                f"({state.get('orders_created')} created, "
                f"{counters.get('POST /v1/orders')} POST /v1/orders calls)")
    finally:
        # No job may run while its rows are deleted: stop the runner first.
        ctx.stop_server()
        sim.stop()  # idempotent; also registered in ctx.cleanup as a safety net
        ctx.purge_quietly(NAME, [backend_id] if backend_id else [])
    return [make_row(NAME, export_rate, confirm_rate, TARGET, UNIT, detail)]
