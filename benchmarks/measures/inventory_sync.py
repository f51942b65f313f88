# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""inventory_sync: availability of SKUs x 2 locations after a bulk stock change,
sent the suite's way (coalesced, batched) vs one call per quant.

Two rows of one run, both "how many times fewer" ratios (baseline / value):
``inventory_sync_calls`` (HTTP calls) and ``inventory_sync_time`` (seconds).
"""

import time
import uuid

from .. import fixtures
from ..report import make_row
from . import measure

NAME = "inventory_sync"
CALLS_ROW, TIME_ROW = "inventory_sync_calls", "inventory_sync_time"
CALLS_TARGET, TIME_TARGET = ">= 20", ">= 10"
RATIO_OF = "baseline/value"
FLOW = "oms_inventory_sync"
FLUSH_METHOD = "_job_oms_inventory_flush"
SKU_PREFIX = "BENCH-INV-"
WAREHOUSE_CODE = "BNINV"  # the second location (the first is the company's warehouse)
LOCATION_REFS = ("WH1", "STORE-1")
CREATE_BATCH = 1000
CACHE_BATCH = 1000  # stock change: flush and clear the ORM cache every N products
MAX_JOB_ROUNDS = 10
NAIVE_MAX_CALLS = 40000  # beyond this the naive way is timed on a sample, extrapolated
BACKEND_SEND_SAMPLE = 200
# Tables this measure churns: vacuumed and analyzed before the stock change
# (autovacuum may be off, as on the development machine, and a table emptied
# by the previous run has no statistics).
CHURNED_TABLES = ("stock_quant", "retail_oms_inventory_dirty", "queue_job", "retail_exchange",
                  "product_product", "product_template")
SETUP_CONTEXT = {"tracking_disable": True, "mail_create_nolog": True, "mail_notrack": True,
                 "mail_create_nosubscribe": True}


def _expected_quantity(index, location):
    """Units put in ``location`` (0 or 1) for the ``index``-th SKU (1-based)."""
    return 1 + index % 50 if location == 0 else 1 + (index * 7) % 23


def _sku(index):
    return f"{SKU_PREFIX}{index:05d}"


# ------------------------------------------------------------------ fixtures

def _ensure_products(ctx, env, count):
    """The first ``count`` bench SKUs, created once and reused from run to run.

    They are kept archived and not saleable between runs (so that the product
    push and the snapshot flows of other backends ignore them); returns
    (products in SKU order, how many were created, seconds spent creating).
    """
    Product = env["product.product"].with_context(active_test=False, **SETUP_CONTEXT)
    env.cr.execute("SELECT default_code FROM product_product WHERE default_code LIKE %s",
                   [SKU_PREFIX + "%"])
    known = {row[0] for row in env.cr.fetchall()}
    missing = [i for i in range(1, count + 1) if _sku(i) not in known]
    start = time.perf_counter()
    for offset in range(0, len(missing), CREATE_BATCH):
        part = missing[offset:offset + CREATE_BATCH]
        Product.create([{
            "name": f"Bench inventory SKU {i}", "default_code": _sku(i), "type": "consu",
            "is_storable": True, "sale_ok": False, "purchase_ok": False,
        } for i in part])
        env.flush_all()
        env.cr.commit()  # an interrupted run keeps what it created
        env.invalidate_all()
        ctx.log(f"{NAME}: created {offset + len(part)}/{len(missing)} products")
    created_seconds = time.perf_counter() - start
    products = Product.search([("default_code", "in", [_sku(i) for i in range(1, count + 1)])],
                              order="default_code")
    if len(products) != count:
        raise RuntimeError(f"expected {count} bench SKUs, found {len(products)}")
    return products, len(missing), created_seconds


def _set_active(products, active):
    """(Un)archive products and their templates through the ORM."""
    if active:
        products.product_tmpl_id.write({"active": True})
        products.write({"active": True})
    else:
        products.write({"active": False})
        products.product_tmpl_id.write({"active": False})
    products.env.flush_all()


def _ensure_warehouse(env):
    Warehouse = env["stock.warehouse"].with_context(active_test=False, **SETUP_CONTEXT)
    warehouse = Warehouse.search([("code", "=", WAREHOUSE_CODE)], limit=1)
    if not warehouse:
        warehouse = Warehouse.create({"name": "Bench inventory store", "code": WAREHOUSE_CODE})
    elif not warehouse.active:
        warehouse.active = True
    return warehouse


def _delete_bench_quants(env):
    """Remove the stock of every bench SKU (SQL: no move, no availability mark)."""
    env.flush_all()
    env.cr.execute("DELETE FROM stock_quant WHERE product_id IN "
                   "(SELECT id FROM product_product WHERE default_code LIKE %s)",
                   [SKU_PREFIX + "%"])
    env.invalidate_all()
    return env.cr.rowcount


# ----------------------------------------------------------------- the jobs

def _pending_jobs(env, backend_id):
    """UUIDs of the backend's flush job and of its exchanges' jobs, runner order."""
    ids = fixtures.exchange_ids(env, env["retail.backend"].browse(backend_id))
    env.cr.execute(
        "SELECT uuid FROM queue_job WHERE state IN ('pending', 'enqueued') AND (("
        + fixtures.JOBS_OF_BACKENDS + " AND method_name = %s) OR (" + fixtures.JOBS_OF_EXCHANGES
        + ")) ORDER BY priority, id", [[backend_id], FLUSH_METHOD, ids or [0]])
    return [row[0] for row in env.cr.fetchall()]


def _run_jobs(env, backend_id):
    """Run the stored jobs in process as the job runner would, one transaction each.

    Load, mark started and commit, perform, mark done and commit (the ETA is
    not waited for). Returns per-method counts and seconds.
    """
    from odoo.addons.queue_job.exception import RetryableJobError
    from odoo.addons.queue_job.job import Job

    stats = {}
    for _round in range(MAX_JOB_ROUNDS):
        uuids = _pending_jobs(env, backend_id)
        if not uuids:
            return stats
        for job_uuid in uuids:
            start = time.perf_counter()
            job = Job.load(env, job_uuid)
            job.set_started()
            job.store()
            env.cr.commit()
            perform_start = time.perf_counter()
            try:
                job.perform()
            except RetryableJobError as exc:
                env.cr.rollback()
                job.postpone(result=str(exc), seconds=exc.seconds)
                job.set_pending(reset_retry=False)
                job.store()
                env.cr.commit()
                _job_entry(stats, job.method_name)["retried"] += 1
                continue
            except Exception:
                env.cr.rollback()
                raise
            perform_seconds = time.perf_counter() - perform_start
            job.set_done(result=job.result)
            job.store()
            env.flush_all()
            env.cr.commit()
            entry = _job_entry(stats, job.method_name)
            entry["jobs"] += 1
            entry["seconds"] += time.perf_counter() - start
            entry["perform_seconds"] += perform_seconds
    if _pending_jobs(env, backend_id):
        raise RuntimeError(f"jobs still pending after {MAX_JOB_ROUNDS} rounds")
    return stats


def _job_entry(stats, method):
    return stats.setdefault(method, {"jobs": 0, "retried": 0, "seconds": 0.0,
                                     "perform_seconds": 0.0})


# ------------------------------------------------------------------ checks

def _expected_levels(products, refs):
    return {(product.default_code, ref): _expected_quantity(index, loc)
            for index, product in enumerate(products, 1)
            for loc, ref in enumerate(refs)}


def _compare(sim_levels, expected):
    """(matching, wrong, missing) levels of the simulator against what is expected."""
    held = {(lv["sku"], lv["location_ref"]): lv for lv in sim_levels}
    matching = wrong = missing = 0
    for key, quantity in expected.items():
        level = held.get(key)
        if level is None:
            missing += 1
        elif level["available"] == quantity and level["on_hand"] == quantity:
            matching += 1
        else:
            wrong += 1
    return matching, wrong, missing


def _exchange_stats(env, backend_id):
    env.cr.execute("""
        SELECT x.state, count(*), sum(x.duration_ms), max(x.duration_ms)
          FROM retail_exchange x JOIN retail_flow f ON f.id = x.flow_id
         WHERE x.backend_id = %s AND f.code = %s GROUP BY x.state""", [backend_id, FLOW])
    rows = env.cr.fetchall()
    return ({state: count for state, count, _s, _m in rows},
            sum(s or 0 for _st, _c, s, _m in rows), max([m or 0 for *_x, m in rows] or [0]))


# ------------------------------------------------------------------ naive way

def _naive_levels(env, products, locations, sequence):
    """One level per quant, as a connector hooked on each quant write would send."""
    env.cr.execute("""
        SELECT p.default_code, q.location_id, q.quantity, q.reserved_quantity
          FROM stock_quant q JOIN product_product p ON p.id = q.product_id
         WHERE q.product_id = ANY(%s) AND q.location_id = ANY(%s) ORDER BY q.id""",
                   [products.ids, list(locations)])
    return [{"sku": sku, "location_ref": locations[location_id],
             "available": int(quantity - reserved), "on_hand": int(quantity),
             "sequence": sequence}
            for sku, location_id, quantity, reserved in env.cr.fetchall()]


def _naive_calls(config, levels, run):
    """One ``PUT /v1/inventory`` per level; returns (seconds, failures)."""
    from odoo.addons.retail_integration_base.services import http_client
    failures = 0
    start = time.perf_counter()
    for number, level in enumerate(levels):
        result = http_client.send(config, "PUT", "/v1/inventory", payload={"levels": [level]},
                                  idempotency_key=f"bench-naive:{run}:{number}")
        if not result.ok:
            failures += 1
    return time.perf_counter() - start, failures


def _backend_send_sample(backend, levels, run):
    """The same calls through ``retail.backend._http_send`` (its per-call costs:
    client configuration and API key decryption, rate limit check)."""
    start = time.perf_counter()
    failures = 0
    for number, level in enumerate(levels):
        result = backend._http_send("PUT", "/v1/inventory", payload={"levels": [level]},
                                    extra_headers={"Idempotency-Key": f"bench-naive-b:{run}:{number}"})
        if not result.ok:
            failures += 1
    return time.perf_counter() - start, failures


# ------------------------------------------------------------------ measure

@measure(NAME, order=40, target=TIME_TARGET, unit="s",
         description="inventory sync after a bulk stock change, SKUs x 2 locations: calls and "
                     "time of one PUT per quant / of the suite (coalesced, batched); rows "
                     f"{CALLS_ROW} (target {CALLS_TARGET}) and {TIME_ROW} (target {TIME_TARGET})")
def inventory_sync(ctx):
    count = 2000 if ctx.quick else 20000
    ctx.stop_server()  # no job runner may take the flush job: this measure runs it
    api_key = "bench-" + uuid.uuid4().hex
    run = uuid.uuid4().hex[:12]
    sim = fixtures.start_oms_simulator(ctx, api_key)
    backend_id = None
    detail = {"skus": count, "locations": len(LOCATION_REFS), "quants": count * len(LOCATION_REFS),
              "jobs_run": "in process (load, perform, store, one transaction per job, "
                          "as the job runner does; the flush job's ETA is not waited for)"}
    try:
        with ctx.env(SETUP_CONTEXT) as env:
            fixtures.purge_leftovers(ctx, env)
            detail["leftover_quants_deleted"] = _delete_bench_quants(env)
            env.cr.commit()
            start = time.perf_counter()
            products, created, created_seconds = _ensure_products(ctx, env, count)
            detail["products_created"] = created
            if created:
                detail["products_create_seconds"] = round(created_seconds, 2)
                detail["products_create_ms_each"] = round(created_seconds * 1000 / created, 3)
            _set_active(products, True)
            main = env["stock.warehouse"].search(
                [("company_id", "=", env.company.id), ("code", "!=", WAREHOUSE_CODE)],
                order="sequence, id", limit=1)
            store = _ensure_warehouse(env)
            backend = env["retail.backend"].create({
                "name": "Bench OMS inventory", "kind": "oms", "base_url": sim.url,
                "auth_type": "bearer",
            })
            backend.write({"api_key": api_key})
            backend_id = backend.id
            env["retail.mapping"].create([{
                "backend_id": backend.id, "mapping_type": "location",
                "odoo_record": f"stock.warehouse,{warehouse.id}", "external_value": ref,
            } for warehouse, ref in zip((main, store), LOCATION_REFS, strict=True)])
            flow = backend._get_flow(FLOW)
            detail["flow"] = {"code": flow.code, "channel": flow.channel, "active": flow.active}
            detail["other_oms_targets"] = len([t for t in backend._oms_inventory_targets()
                                               if t[0] != backend.id])
            env.cr.commit()
            detail["setup_seconds"] = round(time.perf_counter() - start, 2)
            detail["vacuum_analyze_seconds"] = round(
                fixtures.vacuum_analyze(ctx.database, CHURNED_TABLES), 2)
            ctx.log(f"{NAME}: {count} SKUs x {len(LOCATION_REFS)} locations ({main.code} as "
                    f"{LOCATION_REFS[0]}, {store.code} as {LOCATION_REFS[1]}); OMS simulator "
                    f"on {sim.url}")

            # The bulk stock change: Odoo's own cost, not part of the ratio.
            locations = (main.lot_stock_id, store.lot_stock_id)
            Quant = env["stock.quant"]
            env.invalidate_all()
            start = time.perf_counter()
            for index, product in enumerate(products, 1):
                for loc, location in enumerate(locations):
                    Quant._update_available_quantity(
                        product, location, _expected_quantity(index, loc))
                if index % CACHE_BATCH == 0:
                    env.flush_all()
                    env.invalidate_all()
                    if index == CACHE_BATCH:
                        # What auto-analyze would do: without column statistics
                        # (stock_quant was emptied) PostgreSQL finds each quant by
                        # scanning every row inserted so far, quadratic in the
                        # transaction's size. ANALYZE samples this transaction's
                        # own new rows too.
                        env.cr.execute("ANALYZE stock_quant")
                    if index % (CACHE_BATCH * 5) == 0:
                        ctx.log(f"{NAME}: stock put for {index}/{count} SKUs")
            env.flush_all()
            change_seconds = time.perf_counter() - start
            detail["stock_change_seconds"] = round(change_seconds, 2)
            detail["stock_change_ms_per_quant"] = round(
                change_seconds * 1000 / (count * len(locations)), 3)
            ctx.log(f"{NAME}: bulk stock change of {count * len(locations)} quants "
                    f"in {change_seconds:.1f} s; committing, then running the sync")

            # The suite's way: from the commit until everything is at the OMS.
            start = time.perf_counter()
            env.cr.flush()  # the pre-commit hooks: the suite stores the changed pairs here
            mark_seconds = time.perf_counter() - start
            env.cr.commit()
            commit_seconds = time.perf_counter() - start
            paused = time.perf_counter()
            env.cr.execute("SELECT count(*) FROM retail_oms_inventory_dirty WHERE backend_id = %s",
                           [backend_id])
            detail["dirty_pairs_stored"] = env.cr.fetchone()[0]
            env.cr.execute("SELECT count(*), min(eta) IS NOT NULL FROM queue_job "
                           "WHERE state = 'pending' AND method_name = %s AND "
                           + fixtures.JOBS_OF_BACKENDS, [FLUSH_METHOD, [backend_id]])
            detail["flush_jobs_queued"], detail["flush_job_has_eta"] = env.cr.fetchone()
            paused = time.perf_counter() - paused
            job_stats = _run_jobs(env, backend_id)
            suite_seconds = time.perf_counter() - start - paused
            state = sim.state()
            totals = dict(state["inventory_totals"])
            expected = _expected_levels(products, LOCATION_REFS)
            matching, wrong, missing = _compare(state["inventory"], expected)
            states, http_ms, http_max_ms = _exchange_stats(env, backend_id)
            sequence = max((lv["sequence"] for lv in state["inventory"]), default=0)
            detail.update({
                "suite_seconds": round(suite_seconds, 3),
                "suite_commit_seconds": round(commit_seconds, 3),
                "suite_precommit_mark_seconds": round(mark_seconds, 3),
                "suite_jobs": {method: {k: round(v, 3) if isinstance(v, float) else v
                                        for k, v in entry.items()}
                               for method, entry in job_stats.items()},
                "suite_http_ms_total": http_ms, "suite_http_ms_max": http_max_ms,
                "suite_calls": totals["calls"], "suite_levels_sent": totals["levels"],
                "suite_accepted": totals["accepted"], "suite_stale": totals["stale"],
                "suite_exchange_states": states,
                "suite_sim_statuses": dict(state.get("status_counters", {})),
                "levels_expected": len(expected), "levels_matching": matching,
                "levels_wrong": wrong, "levels_missing": missing,
                "flush_eta_seconds_not_waited": 2,
            })
            ctx.log(f"{NAME}: suite: {totals['calls']} calls, {totals['accepted']} levels "
                    f"accepted, {totals['stale']} stale in {suite_seconds:.2f} s; "
                    f"{matching}/{len(expected)} levels as expected; exchanges {states}")
            problems = []
            if matching != len(expected):
                problems.append(f"{wrong} wrong and {missing} missing levels at the OMS")
            if set(states) != {"done"}:
                problems.append(f"inventory exchanges not all done: {states}")

            # The naive way: one call per quant, same client code, same simulator.
            refs = {main.lot_stock_id.id: LOCATION_REFS[0], store.lot_stock_id.id: LOCATION_REFS[1]}
            levels = _naive_levels(env, products, refs, sequence + 1)
            sample = levels if len(levels) <= NAIVE_MAX_CALLS else \
                levels[::-(-len(levels) // NAIVE_MAX_CALLS)]
            config = backend._client_config()
            ctx.log(f"{NAME}: naive way: {len(sample)} PUT /v1/inventory calls of one level")
            before = dict(sim.state(request_limit=0)["inventory_totals"])
            naive_sample_seconds, naive_failures = _naive_calls(config, sample, run)
            after = dict(sim.state(request_limit=0)["inventory_totals"])
            naive_seconds = naive_sample_seconds * len(levels) / len(sample)
            small = [dict(level, sequence=sequence + 2)
                     for level in levels[:50 if ctx.quick else BACKEND_SEND_SAMPLE]]
            backend_seconds, backend_failures = _backend_send_sample(backend, small, run)
            detail.update({
                "baseline_method": (
                    f"{len(sample)} sequential PUT /v1/inventory calls of one level each"
                    + ("" if len(sample) == len(levels) else
                       f", a sample of the {len(levels)} quants, extrapolated linearly")
                    + ", through http_client.send with the backend's ClientConfig built once, "
                      "own Idempotency-Key each, sequence above the suite's; no exchange or "
                      "job recorded per call (the cheapest naive connector)"),
                "naive_calls": len(levels), "naive_calls_made": len(sample),
                "naive_sample_seconds": round(naive_sample_seconds, 3),
                "naive_seconds": round(naive_seconds, 3),
                "naive_ms_per_call": round(naive_sample_seconds * 1000 / len(sample), 3),
                "naive_failures": naive_failures,
                "naive_accepted": after["accepted"] - before["accepted"],
                "naive_stale": after["stale"] - before["stale"],
                "naive_ms_per_call_via_backend_http_send": round(
                    backend_seconds * 1000 / len(small), 3),
                "naive_backend_http_send_sample": len(small),
                "naive_backend_http_send_failures": backend_failures,
                "suite_ms_per_level": round(suite_seconds * 1000 / len(expected), 4),
                "time_ratio_if_the_2s_eta_is_waited": round(naive_seconds / (suite_seconds + 2), 2),
                "simulator": "in process (shares the CPU and GIL with the client, both ways)",
            })
            ctx.log(f"{NAME}: naive: {len(sample)} calls in {naive_sample_seconds:.1f} s "
                    f"({detail['naive_ms_per_call']} ms/call), {naive_failures} failed")
            if naive_failures or detail["naive_accepted"] != len(sample):
                problems.append(f"naive calls: {naive_failures} failed, "
                                f"{detail['naive_accepted']} levels accepted of {len(sample)}")
            if problems:
                detail["error"] = "; ".join(problems)
    finally:
        sim.stop()
        _cleanup_quietly(ctx, backend_id)
    suite_calls = None if detail.get("error") else detail["suite_calls"]
    suite_time = None if detail.get("error") else detail["suite_seconds"]
    return [
        make_row(CALLS_ROW, suite_calls, detail["naive_calls"], CALLS_TARGET, "calls", detail,
                 ratio_of=RATIO_OF),
        make_row(TIME_ROW, suite_time, detail["naive_seconds"], TIME_TARGET, "s", detail,
                 ratio_of=RATIO_OF),
    ]


def _cleanup_quietly(ctx, backend_id):
    """Stock, backend (with flows, mappings, exchanges, jobs, buffer rows) away,
    bench SKUs and the store archived; never raises (the next run purges)."""
    start = time.perf_counter()
    try:
        with ctx.env(SETUP_CONTEXT) as env:
            quants = _delete_bench_quants(env)
            env.cr.commit()
        purged = ctx.purge_quietly(NAME, [backend_id] if backend_id else [])
        with ctx.env(SETUP_CONTEXT) as env:
            products = env["product.product"].with_context(active_test=False).search(
                [("default_code", "=like", SKU_PREFIX + "%"), ("active", "=", True)])
            _set_active(products, False)
            store = env["stock.warehouse"].search([("code", "=", WAREHOUSE_CODE)])
            if store:
                store.active = False
            env.cr.commit()
        ctx.log(f"{NAME}: deleted {quants} quants, {'purged the backend, ' if purged else ''}"
                f"archived {len(products)} SKUs and the store in "
                f"{time.perf_counter() - start:.1f} s")
    except Exception as exc:
        ctx.log(f"{NAME}: clean-up failed ({type(exc).__name__}: {exc}); the next run "
                "cleans the leftovers")
