# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Test data of the benchmarks, created through the ORM, and its clean-up.

Products and the customer are found again by their reference on the next
run; backends are created per measure under a ``Bench ...`` name and purged
(with their exchanges and jobs) afterwards and before the next run, so that
a backend left over by an interrupted run never takes part in a measure.
"""

from contextlib import closing
import time

from simulators.oms import OmsSimulator

BENCH_PREFIX = "Bench "
SKUS = (("BENCH-SKU-1", "Bench T-shirt", 19.90), ("BENCH-SKU-2", "Bench mug", 7.50),
        ("BENCH-SKU-3", "Bench backpack", 49.00))
CUSTOMER_REF = "BENCH-CUSTOMER"


def ensure_products(env):
    """Three storable products with SKUs (``default_code``)."""
    Product = env["product.product"].with_context(active_test=False)
    products = Product.browse()
    for sku, name, price in SKUS:
        product = Product.search([("default_code", "=", sku)], limit=1)
        if not product:
            product = Product.create({
                "name": name, "default_code": sku, "type": "consu", "is_storable": True,
                "list_price": price, "sale_ok": True,
            })
        elif not product.active:
            product.active = True
        products |= product
    return products


def ensure_customer(env):
    Partner = env["res.partner"]
    customer = Partner.search([("ref", "=", CUSTOMER_REF)], limit=1)
    if not customer:
        customer = Partner.create({
            "name": "Bench Customer", "ref": CUSTOMER_REF, "email": "bench.customer@example.com",
            "street": "1 Benchmark Street", "city": "Brussels", "zip": "1000",
        })
    return customer


def create_orders(env, count, products, customer, tag):
    """``count`` draft orders of three lines each (one per product)."""
    from odoo import Command
    values = [{
        "partner_id": customer.id,
        "client_order_ref": f"{tag}-{index}",
        "order_line": [Command.create({"product_id": product.id,
                                       "product_uom_qty": 1 + (index + n) % 3})
                       for n, product in enumerate(products)],
    } for index in range(count)]
    return env["sale.order"].create(values)


# queue_job stores the job's recordset as JSON text inside its jsonb column
# (a jsonb string); accept a plain object as well.
_RECORD_IDS = ("(CASE WHEN jsonb_typeof(records) = 'string' THEN (records #>> '{}')::jsonb "
               "ELSE records END) -> 'ids'")


# WHERE clause of the queue_job jobs of the exchanges whose ids are the parameter.
JOBS_OF_EXCHANGES = (
    "model_name = 'retail.exchange' AND EXISTS (SELECT 1 FROM jsonb_array_elements_text("
    + _RECORD_IDS + ") AS e(id) WHERE e.id::int = ANY(%s))")


# WHERE clause of the queue_job jobs run on the backends whose ids are the
# parameter (such as the OMS inventory flush job).
JOBS_OF_BACKENDS = (
    "model_name = 'retail.backend' AND EXISTS (SELECT 1 FROM jsonb_array_elements_text("
    + _RECORD_IDS + ") AS e(id) WHERE e.id::int = ANY(%s))")


def exchange_ids(env, backends):
    if not backends:
        return []
    env.flush_all()
    env.cr.execute("SELECT id FROM retail_exchange WHERE backend_id IN %s",
                   [tuple(backends.ids)])
    return [row[0] for row in env.cr.fetchall()]


def delete_jobs_of_exchanges(env, ids):
    """Delete the queue_job jobs of the given exchanges; return how many."""
    if not ids:
        return 0
    env.cr.execute("DELETE FROM queue_job WHERE " + JOBS_OF_EXCHANGES, [list(ids)])
    return env.cr.rowcount


def purge_backends(env, backends):
    """Delete backends with their exchanges, jobs and bindings (bench data only).

    Exchanges and jobs are removed in SQL: a webhook benchmark leaves
    thousands of them, which the ORM would unlink one message thread at a
    time.
    """
    backends = backends.with_context(active_test=False).exists()
    if not backends:
        return {"backends": 0, "exchanges": 0, "jobs": 0}
    ids = exchange_ids(env, backends)
    jobs = delete_jobs_of_exchanges(env, ids)
    jobs += delete_backend_leftovers(env, backends.ids)
    if ids:
        env.cr.execute("DELETE FROM mail_followers WHERE res_model = 'retail.exchange' "
                       "AND res_id = ANY(%s)", [ids])
        env.cr.execute("DELETE FROM mail_message WHERE model = 'retail.exchange' "
                       "AND res_id = ANY(%s)", [ids])
        env.cr.execute("DELETE FROM retail_exchange WHERE id = ANY(%s)", [ids])
    if _has_table(env, "retail_settlement_batch"):
        # Settlement batches of bench backends (their journal entries stay).
        env.cr.execute("""
            DELETE FROM retail_settlement_line WHERE batch_id IN (
                SELECT id FROM retail_settlement_batch WHERE backend_id = ANY(%s))""",
                       [backends.ids])
        env.cr.execute("DELETE FROM retail_settlement_batch WHERE backend_id = ANY(%s)",
                       [backends.ids])
    if _has_table(env, "retail_loyalty_transaction"):
        # The loyalty ledger of bench orders (and the discount lines on them).
        env.cr.execute("""
            DELETE FROM sale_order_line WHERE retail_loyalty_transaction_id IN (
                SELECT id FROM retail_loyalty_transaction WHERE backend_id = ANY(%s))""",
                       [backends.ids])
        env.cr.execute("DELETE FROM retail_loyalty_transaction WHERE backend_id = ANY(%s)",
                       [backends.ids])
        env.cr.execute("UPDATE res_partner SET retail_loyalty_backend_id = NULL, "
                       "retail_loyalty_member_ref = NULL WHERE retail_loyalty_backend_id = ANY(%s)",
                       [backends.ids])
    env.invalidate_all()
    count = len(backends)
    backends.sudo().unlink()
    env.flush_all()
    return {"backends": count, "exchanges": len(ids), "jobs": jobs}


def _has_table(env, name):
    """True when the module owning ``name`` is installed (the table exists)."""
    env.cr.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
    return env.cr.fetchone()[0]


def delete_backend_leftovers(env, ids):
    """Delete the jobs run on these backends and their OMS inventory buffer rows.

    The inventory flush job (one per OMS backend) and the changed (product,
    location) pairs of ``retail_oms_inventory_dirty`` are not linked to the
    backend by a foreign key: they would outlive it. Returns the jobs deleted.
    """
    if not ids:
        return 0
    env.flush_all()
    env.cr.execute("DELETE FROM queue_job WHERE " + JOBS_OF_BACKENDS, [list(ids)])
    jobs = env.cr.rowcount
    if _has_table(env, "retail_oms_inventory_dirty"):
        env.cr.execute("DELETE FROM retail_oms_inventory_dirty WHERE backend_id = ANY(%s)",
                       [list(ids)])
    return jobs


def purge_orphan_jobs(env):
    """Delete exchange and backend jobs whose record is gone (left by an
    interrupted run), and inventory buffer rows of deleted backends."""
    env.flush_all()
    orphans = 0
    for model, table in (("retail.exchange", "retail_exchange"),
                         ("retail.backend", "retail_backend")):
        env.cr.execute("""
            DELETE FROM queue_job
             WHERE model_name = %s AND state NOT IN ('done', 'started')
               AND jsonb_array_length(""" + _RECORD_IDS + """) > 0
               AND NOT EXISTS (SELECT 1 FROM """ + table + """ x
                                WHERE x.id::text IN (
                                    SELECT jsonb_array_elements_text(""" + _RECORD_IDS + """)))""",
                       [model])
        orphans += env.cr.rowcount
    if _has_table(env, "retail_oms_inventory_dirty"):
        env.cr.execute("DELETE FROM retail_oms_inventory_dirty d WHERE NOT EXISTS "
                       "(SELECT 1 FROM retail_backend b WHERE b.id = d.backend_id)")
    return orphans


def purge_bench_backends(env, kinds=None):
    """Purge every backend a benchmark created (name starting with ``Bench ``)."""
    domain = [("name", "=like", BENCH_PREFIX + "%")]
    if kinds:
        domain.append(("kind", "in", list(kinds)))
    backends = env["retail.backend"].with_context(active_test=False).search(domain)
    result = purge_backends(env, backends)
    result["orphan_jobs"] = purge_orphan_jobs(env)
    return result


def purge_leftovers(ctx, env):
    """Purge what earlier runs left behind, and say so when there was any."""
    purged = purge_bench_backends(env)
    if purged["backends"] or purged["orphan_jobs"]:
        ctx.log(f"purged leftovers of a previous run: {purged}")
    return purged


def start_oms_simulator(ctx, api_key, name=None):
    """An in-process OMS simulator on loopback, stopped by the run's clean-up."""
    sim = OmsSimulator("127.0.0.1", port=0, api_key=api_key)
    sim.start()
    ctx.cleanup.callback(sim.stop)
    if name:
        ctx.log(f"{name}: OMS simulator on {sim.url}")
    return sim


def vacuum_analyze(database, tables):
    """``VACUUM ANALYZE`` tables a measure churns; return the seconds it took.

    What autovacuum does on a maintained database: dead rows of earlier runs
    are reclaimed and the planner gets statistics. Needs its own connection
    in autocommit mode (VACUUM cannot run inside a transaction).
    """
    from odoo import sql_db
    start = time.perf_counter()
    with closing(sql_db.db_connect(database).cursor()) as cr:
        cr._cnx.autocommit = True
        try:
            for table in tables:
                cr.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
                if cr.fetchone()[0]:
                    cr.execute(f'VACUUM ANALYZE "{table}"')
        finally:
            cr._cnx.autocommit = False  # the connection goes back to Odoo's pool
    return time.perf_counter() - start


def count_jobs_of_exchanges(env, ids, state=None):
    if not ids:
        return 0
    query = "SELECT count(*) FROM queue_job WHERE " + JOBS_OF_EXCHANGES
    params = [list(ids)]
    if state:
        query += " AND state = %s"
        params.append(state)
    env.flush_all()
    env.cr.execute(query, params)
    return env.cr.fetchone()[0]
