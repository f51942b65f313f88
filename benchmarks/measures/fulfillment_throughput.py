# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""fulfillment_throughput: orders fulfilled through OMS webhooks vs orders confirmed."""

import base64
import json
import time
import urllib.request
import uuid

from .. import fixtures
from ..report import make_row
from . import measure

NAME = "fulfillment_throughput"
TARGET = ">= 2"
UNIT = "orders/s"
EXPORT_FLOW = "oms_order_export"
EVENTS = ["accepted", "shipped"]
POLL_SECONDS = 0.1
CACHE_BATCH = 20
# Parallel webhook deliveries, as a real OMS makes them; one serial sender
# measured the simulator (~23 deliveries/s), not Odoo.
SENDERS = 4
LOG_EVERY = 5.0
_RECORD_IDS = fixtures._RECORD_IDS  # the job's record ids (jsonb)

# Orders of ``%s`` (ids) whose OMS state is fulfilled and whose outgoing
# pickings are all done (at least one of them).
_FULFILLED_SQL = """
    SELECT count(*) FROM sale_order so
     WHERE so.id = ANY(%s) AND so.retail_oms_state = 'fulfilled'
       AND EXISTS (SELECT 1 FROM stock_picking p WHERE p.sale_id = so.id AND p.state = 'done')
       AND NOT EXISTS (SELECT 1 FROM stock_picking p
                        WHERE p.sale_id = so.id AND p.state NOT IN ('done', 'cancel'))
"""


def _sim_call(sim, method, path, body=None, timeout=30):
    """The simulator's control API (``/_sim/...``) over loopback HTTP."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(sim.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=timeout) as answer:
        text = answer.read()
    return json.loads(text) if text else None


def _exchange_states(cr, backend_id):
    cr.execute("SELECT direction, state, count(*) FROM retail_exchange WHERE backend_id = %s "
               "GROUP BY direction, state", [backend_id])
    states = {}
    for direction, state, count in cr.fetchall():
        states.setdefault(direction, {})[state] = count
    return states


def _wait_exports(ctx, backend_id, total, timeout):
    """Poll until ``total`` order exports are done; return the seconds (None on failure)."""
    start = time.monotonic()
    while True:
        with ctx.registry.cursor() as cr:
            cr.execute("""SELECT e.state, count(*) FROM retail_exchange e
                            JOIN retail_flow f ON f.id = e.flow_id
                           WHERE e.backend_id = %s AND f.code = %s GROUP BY e.state""",
                       [backend_id, EXPORT_FLOW])
            states = dict(cr.fetchall())
        now = time.monotonic()
        if states.get("done", 0) >= total:
            return now - start, states
        if states.get("failed") or now - start >= timeout:
            return None, states
        time.sleep(POLL_SECONDS)


def _wait_fulfilled(ctx, sim, backend_id, order_ids, events, timeout, start,
                    delivered_before=0):
    """Poll until every order is fulfilled (or an exchange failed, or timeout).

    Also notes when the simulator's webhook sender had delivered every event
    (its queue empty). Returns a dict of timings and the highest number of
    jobs seen running at once.
    """
    deadline = start + timeout
    result = {"seconds": None, "sender_seconds": None, "max_jobs_running": 0,
              "fulfilled": 0, "exchange_states": {}}
    last_log = start
    while True:
        now = time.monotonic()
        if result["sender_seconds"] is None and sim.webhooks.pending() == 0:
            delivered = sim.webhooks.snapshot(limit=1)["totals"].get("delivered", 0)
            if delivered - delivered_before >= events:
                result["sender_seconds"] = now - start
        with ctx.registry.cursor() as cr:
            cr.execute(_FULFILLED_SQL, [order_ids])
            fulfilled = cr.fetchone()[0]
            states = _exchange_states(cr, backend_id)
            cr.execute("SELECT count(*) FROM queue_job WHERE state = 'started'")
            running = cr.fetchone()[0]
        now = time.monotonic()
        result.update(fulfilled=fulfilled, exchange_states=states)
        result["max_jobs_running"] = max(result["max_jobs_running"], running)
        if fulfilled >= len(order_ids):
            result["seconds"] = now - start
            if result["sender_seconds"] is None:
                result["sender_seconds"] = result["seconds"]
            return result
        if any(s.get("failed") for s in states.values()) or now >= deadline:
            return result
        if now - last_log >= LOG_EVERY:
            ctx.log(f"{NAME}: {fulfilled}/{len(order_ids)} fulfilled after {now - start:.1f} s "
                    f"({sim.webhooks.pending()} webhooks pending, {running} jobs running)")
            last_log = now
        time.sleep(POLL_SECONDS)


def _fulfil_all(ctx, sim, names):
    """Trigger ``accepted`` + ``shipped`` for each order; return per-order errors."""
    errors = []
    for name in names:
        try:
            _sim_call(sim, "POST", f"/_sim/orders/{name}/fulfil", {"events": EVENTS})
        except Exception as exc:  # noqa: BLE001 - reported, the measure goes on
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
    return errors


def _lane_job_stats(env, backend, since_ids):
    """Stats of the queue_job jobs run on this backend's inbound flows."""
    flows = backend.flow_ids.filtered(lambda f: f.direction == "inbound")
    env.flush_all()
    env.cr.execute("""
        SELECT count(*), avg(exec_time), max(exec_time), array_agg(DISTINCT state),
               array_agg(DISTINCT channel), count(*) FILTER (WHERE retry > 1)
          FROM queue_job
         WHERE model_name = 'retail.flow' AND method_name = '_job_drain_lane'
           AND id > %s AND EXISTS (
               SELECT 1 FROM jsonb_array_elements_text(""" + _RECORD_IDS + """) AS e(id)
                WHERE e.id::int = ANY(%s))""", [since_ids, flows.ids or [0]])
    count, avg_exec, max_exec, states, channels, retried = env.cr.fetchone()
    return {
        "lane_jobs": count, "lane_job_exec_avg_ms": _ms(avg_exec),
        "lane_job_exec_max_ms": _ms(max_exec), "lane_job_states": states,
        "lane_job_channels": channels, "lane_jobs_retried": retried,
        "inbound_flows": {f.code: {"lanes": f.lanes, "channel": f.channel} for f in flows},
    }


def _max_job_id(ctx):
    with ctx.registry.cursor() as cr:
        cr.execute("SELECT coalesce(max(id), 0) FROM queue_job")
        return cr.fetchone()[0]


def _delete_lane_jobs(ctx, backend_id):
    """Delete the lane jobs of the backend's flows (``retail.flow`` records,
    which ``fixtures.purge_backends`` does not cover); never raises."""
    if not backend_id:
        return
    try:
        with ctx.env() as env:
            env.cr.execute("SELECT id FROM retail_flow WHERE backend_id = %s", [backend_id])
            flow_ids = [row[0] for row in env.cr.fetchall()]
            if flow_ids:
                env.cr.execute("DELETE FROM queue_job WHERE model_name = 'retail.flow' AND "
                               "EXISTS (SELECT 1 FROM jsonb_array_elements_text(" + _RECORD_IDS
                               + ") AS e(id) WHERE e.id::int = ANY(%s))", [flow_ids])
                ctx.log(f"{NAME}: deleted {env.cr.rowcount} lane jobs")
    except Exception as exc:  # noqa: BLE001 - clean-up must not hide the real error
        ctx.log(f"{NAME}: lane job clean-up failed ({type(exc).__name__}: {exc})")


def _ms(seconds):
    return None if seconds is None else round(float(seconds) * 1000.0, 1)


def _inbound_stats(env, backend_id, order_names):
    env.cr.execute("""
        SELECT event_type, state, count(*), count(DISTINCT idempotency_key)
          FROM retail_exchange
         WHERE backend_id = %s AND direction = 'inbound' AND external_ref = ANY(%s)
         GROUP BY event_type, state""", [backend_id, order_names])
    rows = env.cr.fetchall()
    by_type = {}
    for event_type, state, count, _distinct in rows:
        by_type.setdefault(event_type or "-", {})[state] = count
    env.cr.execute("""
        SELECT avg(EXTRACT(EPOCH FROM write_date - create_date)),
               max(EXTRACT(EPOCH FROM write_date - create_date))
          FROM retail_exchange
         WHERE backend_id = %s AND direction = 'inbound' AND external_ref = ANY(%s)""",
                   [backend_id, order_names])
    avg_lat, max_lat = env.cr.fetchone()
    env.cr.execute("""
        SELECT count(*), count(DISTINCT order_id) FROM retail_oms_fulfillment
         WHERE backend_id = %s""", [backend_id])
    fulfillments, fulfilled_orders = env.cr.fetchone()
    return {
        "inbound_exchanges": sum(r[2] for r in rows),
        "inbound_by_type_and_state": by_type,
        "inbound_failed": sum(r[2] for r in rows if r[1] == "failed"),
        "inbound_record_to_last_write_avg_ms": _ms(avg_lat),
        "inbound_record_to_last_write_max_ms": _ms(max_lat),
        "fulfillment_records": fulfillments, "orders_with_a_fulfillment": fulfilled_orders,
    }


@measure(NAME, order=35, target=TARGET, unit=UNIT,
         description="orders fulfilled per second through OMS fulfillment webhooks "
                     "(intake + lane jobs + delivery validation) / orders confirmed per second")
def fulfillment_throughput(ctx):
    total, warm, timeout = (40, 2, 120.0) if ctx.quick else (200, 4, 600.0)
    api_key = "bench-" + uuid.uuid4().hex
    secret = "whsec_" + base64.b64encode(uuid.uuid4().bytes + uuid.uuid4().bytes).decode()
    with ctx.env() as env:
        fixtures.purge_leftovers(ctx, env)
        env.cr.commit()
    server = ctx.server(runner=True)
    sim = fixtures.start_oms_simulator(ctx, api_key, NAME)
    backend_id = None
    detail = {}
    fulfil_rate = confirm_rate = None
    try:
        with ctx.env() as env:
            products = fixtures.ensure_products(env)
            customer = fixtures.ensure_customer(env)
            backend = env["retail.backend"].create({
                "name": "Bench OMS fulfillment", "kind": "oms", "base_url": sim.url,
                "auth_type": "bearer",
            })
            backend.write({"api_key": api_key, "webhook_secret": secret})
            backend_id = backend.id
            env.cr.commit()
            _sim_call(sim, "POST", "/_sim/config", {
                "webhook_secret": secret, "webhook_workers": SENDERS,
                "webhook_url": f"{server.base_url}/retail/webhook/{backend_id}"})
            if not server.wait_log("queue job runner ready for db", timeout=60):
                raise RuntimeError("the queue_job runner did not report ready; see "
                                   f"{server.log_path}")

            warm_orders = fixtures.create_orders(env, warm, products, customer,
                                                 "BENCH-FULFIL-WARM")
            orders = fixtures.create_orders(env, total, products, customer, "BENCH-FULFIL")
            warm_orders.action_confirm()
            env.cr.commit()
            env.invalidate_all()
            ctx.log(f"{NAME}: confirming {total} orders in process (one commit at the end)")
            start = time.perf_counter()
            for index, order in enumerate(orders, 1):
                order.action_confirm()
                if index % CACHE_BATCH == 0:
                    env.flush_all()
                    env.invalidate_all()
            env.flush_all()
            env.cr.commit()
            confirm_seconds = time.perf_counter() - start
            order_ids, names = orders.ids, orders.mapped("name")
            warm_ids, warm_names = warm_orders.ids, warm_orders.mapped("name")
        confirm_rate = total / confirm_seconds
        ctx.log(f"{NAME}: confirmed {total} orders in {confirm_seconds:.2f} s "
                f"({confirm_rate:.1f}/s); waiting for the exports (not timed)")
        export_seconds, export_states = _wait_exports(ctx, backend_id, warm + total, timeout)
        if export_seconds is None:
            raise RuntimeError(f"order exports did not complete: {export_states}; see "
                               f"{server.log_path}")
        ctx.log(f"{NAME}: {warm + total} orders exported in {export_seconds:.1f} s")

        # Warm-up: the workers load the webhook route and the lane job.
        start = time.monotonic()
        warm_errors = _fulfil_all(ctx, sim, warm_names)
        warm_result = _wait_fulfilled(ctx, sim, backend_id, warm_ids, warm * len(EVENTS),
                                      120.0, start)
        if warm_errors or warm_result["seconds"] is None:
            raise RuntimeError(f"warm-up fulfilments did not complete: {warm_errors or ''} "
                               f"{warm_result}; see {server.log_path}")
        if not sim.webhooks.wait_idle(30):
            raise RuntimeError("the simulator's webhook sender did not drain after the warm-up")
        totals_before = dict(sim.webhooks.snapshot(limit=1)["totals"])
        lane_jobs_from = _max_job_id(ctx)
        ctx.log(f"{NAME}: warm-up of {warm} orders fulfilled in {warm_result['seconds']:.1f} s")

        events = total * len(EVENTS)
        ctx.log(f"{NAME}: triggering {events} fulfillment events ({EVENTS} per order)")
        start = time.monotonic()
        trigger_errors = _fulfil_all(ctx, sim, names)
        trigger_seconds = time.monotonic() - start
        result = _wait_fulfilled(ctx, sim, backend_id, order_ids, events, timeout, start,
                                 totals_before.get("delivered", 0))
        seconds = result["seconds"]
        sim.webhooks.wait_idle(10)
        totals = sim.webhooks.snapshot(limit=1)["totals"]
        sender = {k: totals.get(k, 0) - totals_before.get(k, 0)
                  for k in ("queued", "attempts", "delivered", "failed", "skipped")}
        deliveries = [d for d in sim.webhooks.snapshot()["deliveries"]
                      if d["subject"] in set(names)]
        statuses = {}
        for delivery in deliveries:
            key = str(delivery["last_status"])
            statuses[key] = statuses.get(key, 0) + 1
        with ctx.env() as env:
            backend = env["retail.backend"].browse(backend_id)
            inbound = _inbound_stats(env, backend_id, names)
            lanes = _lane_job_stats(env, backend, lane_jobs_from)
            env.cr.execute("SELECT count(*) FROM stock_picking WHERE sale_id = ANY(%s) "
                           "AND state = 'done'", [order_ids])
            pickings_done = env.cr.fetchone()[0]
            env.cr.execute("SELECT retail_oms_state, count(*) FROM sale_order "
                           "WHERE id = ANY(%s) GROUP BY retail_oms_state", [order_ids])
            oms_states = dict(env.cr.fetchall())
        sender_seconds = result["sender_seconds"]
        detail = {
            "orders": total, "warmup_orders": warm, "events_per_order": EVENTS,
            "events": events,
            "confirm_seconds": round(confirm_seconds, 3),
            "confirm_ms_per_order": round(confirm_seconds * 1000.0 / total, 2),
            "export_seconds_untimed": round(export_seconds, 3),
            "trigger_seconds": round(trigger_seconds, 3), "trigger_errors": trigger_errors[:5],
            "fulfil_seconds": round(seconds, 3) if seconds is not None else None,
            "events_per_s": round(events / seconds, 2) if seconds else None,
            "orders_fulfilled": result["fulfilled"], "order_oms_states": oms_states,
            "pickings_done": pickings_done,
            "exchange_states": result["exchange_states"],
            "failed_exchanges": sum(s.get("failed", 0)
                                    for s in result["exchange_states"].values()),
            "webhook_sender": {
                **sender, "statuses": statuses,
                "duplicates_sent": sum(1 for d in deliveries if d["duplicate"]),
                "retried": sum(1 for d in deliveries if d["attempts"] > 1),
                "seconds_to_deliver_all": round(sender_seconds, 3)
                if sender_seconds is not None else None,
                "delivery_rate_per_s": round(sender["delivered"] / sender_seconds, 2)
                if sender_seconds else None,
                "webhook_senders": SENDERS,
                "share_of_fulfil_time": round(sender_seconds / seconds, 3)
                if sender_seconds and seconds else None,
            },
            "duplicate_inbound_exchanges": inbound["inbound_exchanges"] - events,
            "max_jobs_running_seen": result["max_jobs_running"],
            "workers": int(ctx.option("workers") or 0),
            "runner_channels": ctx.misc_option("queue_job", "channels"),
            **inbound, **lanes,
        }
        if seconds is None:
            detail["error"] = (f"fulfilments incomplete after {timeout:.0f} s "
                               f"({result['fulfilled']}/{total}): {result['exchange_states']} "
                               f"(see {server.log_path})")
        elif detail["failed_exchanges"] or trigger_errors:
            detail["error"] = (f"{detail['failed_exchanges']} failed exchanges, "
                               f"{len(trigger_errors)} trigger errors")
        else:
            fulfil_rate = total / seconds
        ctx.log(f"{NAME}: {result['fulfilled']}/{total} orders fulfilled"
                + (f" in {seconds:.2f} s ({total / seconds:.1f} orders/s, "
                   f"{events / seconds:.1f} events/s); webhook sender done after "
                   f"{sender_seconds:.2f} s" if seconds else ""))
    finally:
        # No job may run while its rows are deleted: stop the runner first.
        ctx.stop_server()
        sim.stop()  # idempotent; also registered in ctx.cleanup as a safety net
        _delete_lane_jobs(ctx, backend_id)
        ctx.purge_quietly(NAME, [backend_id] if backend_id else [])
    return [make_row(NAME, fulfil_rate, confirm_rate, TARGET, UNIT, detail)]
