# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""confirm_overhead: what the OMS export hook adds to ``sale.order`` confirmation."""

import gc
import statistics
import time

from .. import fixtures
from ..report import make_row
from . import measure

NAME = "confirm_overhead"
TARGET = "<= 1.10"
UNIT = "ms/order"
# Nothing is ever sent: no job runner runs during this measure and the jobs
# are deleted at the end. The discard port makes sure of it anyway.
UNUSED_URL = "http://127.0.0.1:9"


def _confirm_with_hook(order):
    order.action_confirm()


def _confirm_without_hook(order):
    # The method our override wraps, skipping only the suite's code.
    from odoo.addons.retail_oms_connector.models.sale_order import SaleOrder
    super(SaleOrder, order).action_confirm()


VARIANTS = {"with": _confirm_with_hook, "without": _confirm_without_hook}


def _timed_batch(env, confirm, orders):
    """Confirm orders one by one, flush and commit; return (ms, SQL queries) per order."""
    env.invalidate_all()
    gc.collect()
    queries = env.cr.sql_log_count
    start = time.perf_counter()
    for order in orders:
        confirm(order)
    env.flush_all()
    env.cr.commit()
    elapsed = time.perf_counter() - start
    return elapsed * 1000.0 / len(orders), (env.cr.sql_log_count - queries) / len(orders)


@measure(NAME, order=10, target=TARGET, unit=UNIT,
         description="sale.order confirmation time with the OMS export hook / without it")
def confirm_overhead(ctx):
    rounds, batch = (3, 10) if ctx.quick else (10, 20)
    ctx.stop_server()  # no job runner may pick up the jobs this measure enqueues
    backend_id = None
    try:
        with ctx.env() as env:
            fixtures.purge_leftovers(ctx, env)
            products = fixtures.ensure_products(env)
            customer = fixtures.ensure_customer(env)
            backend = env["retail.backend"].create({
                "name": "Bench OMS (confirm overhead)", "kind": "oms", "base_url": UNUSED_URL,
                "auth_type": "none",
            })
            backend_id = backend.id
            flow = backend._get_flow("oms_order_export")
            other_oms = env["retail.backend"].search_count(
                [("kind", "=", "oms"), ("id", "!=", backend.id)])
            env.cr.commit()
            ctx.log(f"{NAME}: {rounds} rounds x {batch} orders per variant (3 lines each), "
                    f"interleaved; flow {flow.code} active={flow.active}")
            timings, queries, checked = _run_rounds(ctx, env, products, customer, rounds, batch)
            with_hook = statistics.median(timings["with"])
            without_hook = statistics.median(timings["without"])
            detail = _verify(env, backend, checked)
            detail.update({
                "orders_per_variant": rounds * batch, "rounds": rounds, "batch": batch,
                "lines_per_order": len(products),
                "with_ms_per_round": [round(t, 3) for t in timings["with"]],
                "without_ms_per_round": [round(t, 3) for t in timings["without"]],
                "sql_queries_per_order_with": round(statistics.median(queries["with"]), 1),
                "sql_queries_per_order_without": round(statistics.median(queries["without"]), 1),
                "added_ms_per_order": round(with_hook - without_hook, 3),
                # Rounds pair adjacent batches: the median of the per-round
                # ratios is the least sensitive to load changing on the machine.
                "median_paired_ratio": round(statistics.median(
                    w / wo for w, wo in zip(timings["with"], timings["without"], strict=True)),
                    4),
                "other_oms_backends": other_oms,
                "method": "in-process ORM; per batch: confirm orders one by one, flush, "
                          "commit; median of the per-order times of the rounds",
            })
            env.cr.rollback()
    finally:
        ctx.purge_quietly(NAME, [backend_id] if backend_id else [])
    return [make_row(NAME, with_hook, without_hook, TARGET, UNIT, detail)]


def _run_rounds(ctx, env, products, customer, rounds, batch):
    timings = {"with": [], "without": []}
    queries = {"with": [], "without": []}
    checked = {"with": env["sale.order"], "without": env["sale.order"]}
    # Warm-up (not timed): first calls fill caches and load code paths.
    for name, confirm in VARIANTS.items():
        orders = fixtures.create_orders(env, max(3, batch // 4), products, customer,
                                        f"BENCH-WARM-{name}")
        env.cr.commit()
        _timed_batch(env, confirm, orders)
    for index in range(rounds):
        # ABBA: the variant that goes first alternates from round to round.
        order = ("with", "without") if index % 2 == 0 else ("without", "with")
        for name in order:
            orders = fixtures.create_orders(env, batch, products, customer,
                                            f"BENCH-{name}-{index}")
            env.cr.commit()
            per_order, per_order_queries = _timed_batch(env, VARIANTS[name], orders)
            timings[name].append(per_order)
            queries[name].append(per_order_queries)
            checked[name] |= orders
        ctx.log(f"{NAME}: round {index + 1}/{rounds}: with {timings['with'][-1]:.2f} "
                f"ms/order, without {timings['without'][-1]:.2f} ms/order")
    return timings, queries, checked


def _verify(env, backend, checked):
    """Each hooked order recorded one exchange and one job; the others none."""
    env.invalidate_all()
    Exchange = env["retail.exchange"]
    result = {}
    for name, orders in checked.items():
        exchanges = Exchange.search([("backend_id", "=", backend.id),
                                     ("res_model", "=", "sale.order"),
                                     ("res_id", "in", orders.ids)])
        result[f"exchanges_{name}"] = len(exchanges)
        result[f"jobs_{name}"] = fixtures.count_jobs_of_exchanges(env, exchanges.ids)
        result[f"confirmed_{name}"] = len(orders.filtered(lambda o: o.state == "sale"))
    if result["exchanges_with"] != result["confirmed_with"] or result["exchanges_without"]:
        raise AssertionError(f"the hook did not record one exchange per order: {result}")
    return result
