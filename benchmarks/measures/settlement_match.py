# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""settlement_match: import, match and post a 100,000-line payout, the
suite's way (bulk insert, one read of the candidates per reference set,
matching in memory, bulk update) against the naive way (ORM create of the
lines, then one ORM search and one write per line), in one run."""

import json
import time
import uuid

from .. import fixtures
from ..report import make_row
from . import measure

NAME = "settlement_match"
TARGET = ">= 10"
ORDER_PREFIX = "BENCH-SET-"
REFUND_PREFIX = "BENCH-SET-RF-"
CUSTOMERS = 50
SETUP_CONTEXT = {"tracking_disable": True, "mail_create_nolog": True, "mail_notrack": True,
                 "mail_create_nosubscribe": True}


def _shape(count):
    """How many lines of each kind a payout of ``count`` lines has."""
    refunds = max(2, count // 500)
    chargebacks = max(2, count // 1000)
    fees = 10
    sales = count - refunds - chargebacks * 2 - fees - 1
    return sales, refunds, chargebacks, fees


def _ensure_orders(ctx, env, sales, refunds):
    """``sales`` confirmed orders (inserted in SQL: Odoo's order flow is not
    what is measured) and ``refunds`` posted credit notes (ORM), reused."""
    Partner = env["res.partner"].with_context(**SETUP_CONTEXT)
    customers = Partner.search([("ref", "=like", "BENCH-SET-CUST-%")], order="id")
    if len(customers) < CUSTOMERS:
        customers |= Partner.create([{"name": f"Bench settlement customer {i}",
                                      "ref": f"BENCH-SET-CUST-{i:03d}"}
                                     for i in range(len(customers), CUSTOMERS)])
    env.cr.execute("SELECT count(*) FROM sale_order WHERE name LIKE %s", [ORDER_PREFIX + "%"])
    have = env.cr.fetchone()[0]
    company = env.company
    if have < sales:
        ctx.log(f"{NAME}: inserting {sales - have} bench orders")
        env.cr.execute("""
            INSERT INTO sale_order (name, company_id, partner_id, partner_invoice_id,
                                    partner_shipping_id, date_order, picking_policy,
                                    retail_fulfillment_type, state, currency_id, amount_total,
                                    amount_untaxed, amount_tax, create_uid, write_uid,
                                    create_date, write_date)
            SELECT %(prefix)s || lpad(n::text, 7, '0'), %(company)s, p.id, p.id, p.id,
                   now() at time zone 'utc', 'direct', 'ship', 'sale', %(currency)s,
                   10 + (n %% 90), 10 + (n %% 90), 0, 1, 1, now() at time zone 'utc',
                   now() at time zone 'utc'
              FROM generate_series(%(start)s, %(stop)s) AS n
              JOIN LATERAL (SELECT (%(customers)s)[1 + n %% %(ncust)s] AS id) p ON true""", {
            "prefix": ORDER_PREFIX, "company": company.id, "currency": company.currency_id.id,
            "start": have + 1, "stop": sales, "customers": customers.ids, "ncust": len(customers)})
    Move = env["account.move"].with_context(**SETUP_CONTEXT)
    credit_notes = Move.search([("ref", "=like", REFUND_PREFIX + "%"),
                                ("move_type", "=", "out_refund")])
    if len(credit_notes) < refunds:
        ctx.log(f"{NAME}: creating {refunds - len(credit_notes)} bench credit notes")
        new = Move.create([{
            "move_type": "out_refund", "partner_id": customers[i % len(customers)].id,
            "ref": f"{REFUND_PREFIX}{i:05d}",
            "invoice_line_ids": [(0, 0, {"name": "Refund", "quantity": 1,
                                         "price_unit": 10 + i % 20, "tax_ids": False})]}
            for i in range(len(credit_notes), refunds)])
        new.action_post()
    env.cr.commit()
    return customers


def _payout_lines(count):
    sales, refunds, chargebacks, fees = _shape(count)
    lines = [{"type": "sale", "merchant_order_ref": f"{ORDER_PREFIX}{n:07d}",
              "gross": (10 + n % 90) * 100, "fee": 25 + n % 7,
              "booked_at": "2026-03-01T10:00:00+01:00"} for n in range(1, sales + 1)]
    lines += [{"type": "refund", "merchant_refund_ref": f"{REFUND_PREFIX}{i:05d}",
               "gross": -(10 + i % 20) * 100, "fee": 0} for i in range(refunds)]
    for i in range(chargebacks):
        ref = f"{ORDER_PREFIX}{i + 1:07d}"
        lines.append({"type": "chargeback", "merchant_order_ref": ref, "gross": -1000,
                      "fee": 1500})
        lines.append({"type": "chargeback_reversal", "merchant_order_ref": ref, "gross": 1000})
    lines += [{"type": "fee", "gross": 0, "fee": 500} for _i in range(fees)]
    return lines


def _ensure_backend(env):
    backend = env["retail.backend"].with_context(**SETUP_CONTEXT).create({
        "name": f"Bench settlement {uuid.uuid4().hex[:6]}", "kind": "settlement",
        "base_url": "http://127.0.0.1:9", "auth_type": "none"})
    return backend


def _suite(env, backend, content):
    """What the upload wizard runs: record, parse, import, match; then post."""
    Exchange = env["retail.exchange"].sudo()
    exchange = Exchange.create({
        "name": "bench file", "backend_id": backend.id, "direction": "inbound",
        "flow_id": backend._get_flow("settlement_import").id,
        "idempotency_key": f"file:bench:{uuid.uuid4().hex}", "event_type": "file",
        "payload": json.dumps({"source": "file", "filename": "bench.csv",
                               "layout": "canonical", "content": content})})
    timings = {}
    start = time.perf_counter()
    outcome = exchange._job_process()
    timings["import_and_match"] = time.perf_counter() - start
    batch = env["retail.settlement.batch"].browse(exchange.res_id)
    if batch.state != "matched":
        raise RuntimeError(f"suite batch is {batch.state}: {outcome}; {batch.problem}")
    start = time.perf_counter()
    batch.action_post()
    env.flush_all()
    timings["post"] = time.perf_counter() - start
    return batch, timings


def _naive(env, backend, content, payout_ref):
    """The naive connector: ORM create of the lines, one ORM search per line
    for its order or credit note, one write per line, then the same posting."""
    from odoo.addons.retail_settlement.services import amounts, parsers
    timings = {}
    start = time.perf_counter()
    payout = parsers.parse_canonical(content)
    currency = env["res.currency"].search([("name", "=", payout.currency)])
    gross, fee, net = payout.totals()
    Batch = env["retail.settlement.batch"].with_context(**SETUP_CONTEXT)
    batch = Batch.create({
        "name": payout_ref, "backend_id": backend.id, "company_id": backend.company_id.id,
        "payout_ref": payout_ref, "source": "file", "layout": "canonical",
        "currency_id": currency.id, "paid_at": payout.paid_at, "line_count": len(payout.lines),
        "gross_minor": gross, "fee_minor": fee, "net_minor": net,
        "payout_minor": payout.payout_amount})
    Line = env["retail.settlement.line"]
    vals = [{"batch_id": batch.id, "backend_id": backend.id,
             "company_id": backend.company_id.id, "currency_id": currency.id,
             "sequence": x["row"], "line_ref": x["line_ref"], "line_type": x["type"],
             "merchant_order_ref": x["merchant_order_ref"],
             "merchant_refund_ref": x["merchant_refund_ref"], "psp_reference": x["psp_reference"],
             "gross_minor": x["gross"], "fee_minor": x["fee"], "net_minor": x["net"],
             "gross": float(amounts.from_minor(x["gross"], payout.currency)),
             "fee": float(amounts.from_minor(x["fee"], payout.currency)),
             "net": float(amounts.from_minor(x["net"], payout.currency)),
             "fee_parts": x["fee_parts"], "booked_at": x["booked_at"]} for x in payout.lines]
    lines = Line.browse()
    for chunk in range(0, len(vals), 1000):
        lines |= Line.create(vals[chunk:chunk + 1000])
    env.flush_all()
    timings["import"] = time.perf_counter() - start
    start = time.perf_counter()
    SaleOrder, Move = env["sale.order"], env["account.move"]
    exceptions = 0
    for line in lines:
        if line.line_type == "refund":
            refund = Move.search([("move_type", "=", "out_refund"),
                                  ("ref", "=", line.merchant_refund_ref)], limit=1)
            ok = refund and round(refund.amount_total * 100) == -line.gross_minor
            line.write({"refund_move_id": refund.id, "partner_id": refund.partner_id.id,
                        "state": "matched" if ok else "exception"})
        elif line.line_type in ("sale", "chargeback", "chargeback_reversal"):
            order = SaleOrder.search([("name", "=", line.merchant_order_ref)], limit=1)
            ok = order and (line.line_type != "sale"
                            or round(order.amount_total * 100) == line.gross_minor)
            line.write({"sale_order_id": order.id, "partner_id": order.partner_id.id,
                        "state": "matched" if ok else "exception"})
        else:
            line.state = "none"
            continue
        exceptions += not ok
    env.flush_all()
    timings["match"] = time.perf_counter() - start
    if exceptions:
        raise RuntimeError(f"naive matching found {exceptions} exceptions")
    start = time.perf_counter()
    batch.state = "matched"
    batch.action_post()
    env.flush_all()
    timings["post"] = time.perf_counter() - start
    return batch, timings


def _cleanup(env, backend_id):
    env.cr.execute("SELECT id FROM retail_settlement_batch WHERE backend_id = %s", [backend_id])
    ids = [r[0] for r in env.cr.fetchall()]
    env.cr.execute("DELETE FROM retail_settlement_line WHERE batch_id = ANY(%s)", [ids])
    env.cr.execute("DELETE FROM mail_message WHERE model = 'retail.settlement.batch' "
                   "AND res_id = ANY(%s)", [ids])
    env.cr.execute("DELETE FROM mail_followers WHERE res_model = 'retail.settlement.batch' "
                   "AND res_id = ANY(%s)", [ids])
    env.cr.execute("DELETE FROM retail_settlement_batch WHERE id = ANY(%s)", [ids])
    env.cr.commit()


@measure(NAME, order=60, target=TARGET, unit="s",
         description="Import, match and post a 100,000-line payout vs one ORM search per line")
def settlement_match(ctx):
    count = 5000 if ctx.quick else 100000
    detail = {"lines": count}
    backend_id = None
    try:
        with ctx.env(SETUP_CONTEXT) as env:
            fixtures.purge_leftovers(ctx, env)
            env.cr.execute("SELECT id FROM retail_backend WHERE kind = 'settlement' "
                           "AND name LIKE 'Bench %%'")
            for (old,) in env.cr.fetchall():
                _cleanup(env, old)
            sales, refunds, chargebacks, fees = _shape(count)
            detail.update(sales=sales, refunds=refunds, chargebacks=chargebacks,
                          chargeback_reversals=chargebacks, fee_lines=fees, payout_lines=1)
            _ensure_orders(ctx, env, sales, refunds)
            # Planner statistics for the tables both ways search (a maintained
            # database has them; without them each naive search by order number
            # may scan the orders by date, a quadratic run that says nothing).
            detail["vacuum_analyze_seconds"] = round(fixtures.vacuum_analyze(
                ctx.database, ["sale_order", "account_move", "retail_settlement_line",
                               "retail_settlement_batch"]), 2)
            backend = _ensure_backend(env)
            backend_id = backend.id
            env.cr.commit()
            from simulators.settlement import SettlementSimulator
            sim = SettlementSimulator("127.0.0.1", port=0)  # used in process, not served
            currency = env.company.currency_id.name
            run = uuid.uuid4().hex[:6]
            sim.create_payout({"payout_ref": f"BENCH-PO-{run}", "currency": currency,
                               "lines": _payout_lines(count)})
            content = sim.render(f"BENCH-PO-{run}", "canonical")
            detail["file_bytes"] = len(content.encode())
            ctx.log(f"{NAME}: {count} lines ({len(content) // 1024} KiB canonical CSV); "
                    "the suite's way")
            start = time.perf_counter()
            batch, suite_timings = _suite(env, backend, content)
            env.cr.commit()
            suite_seconds = time.perf_counter() - start
            detail["suite_seconds"] = round(suite_seconds, 3)
            detail["suite_steps"] = {k: round(v, 3) for k, v in suite_timings.items()}
            detail["suite_move_lines"] = len(batch.move_id.line_ids)
            detail["suite_matched"] = batch.matched_count
            ctx.log(f"{NAME}: suite {suite_seconds:.2f} s {detail['suite_steps']}; "
                    "the naive way")
            start = time.perf_counter()
            naive_batch, naive_timings = _naive(env, backend, content, f"BENCH-NAIVE-{run}")
            env.cr.commit()
            naive_seconds = time.perf_counter() - start
            detail["naive_seconds"] = round(naive_seconds, 3)
            detail["naive_steps"] = {k: round(v, 3) for k, v in naive_timings.items()}
            detail["same_entry"] = sorted(
                (round(x.balance, 2), x.account_id.id, x.partner_id.id)
                for x in batch.move_id.line_ids) == sorted(
                (round(x.balance, 2), x.account_id.id, x.partner_id.id)
                for x in naive_batch.move_id.line_ids)
            detail["match_ratio"] = round(naive_timings["match"]
                                          / suite_timings["import_and_match"], 2)
            ctx.log(f"{NAME}: naive {naive_seconds:.2f} s {detail['naive_steps']}")
            if not detail["same_entry"]:
                detail["error"] = "the two ways posted different entries"
    finally:
        if backend_id:
            with ctx.env(SETUP_CONTEXT) as env:
                _cleanup(env, backend_id)
            ctx.purge_quietly(NAME, [backend_id])
    value = None if detail.get("error") else detail.get("suite_seconds")
    return [make_row(NAME, value, detail.get("naive_seconds"), TARGET, "s", detail,
                     ratio_of="baseline/value")]
