# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""A retailer's day: orders from several channels, fulfilment, loyalty,
cancellations, returns, stock moving between locations, and the next
morning's settlement payout -- then the suite's invariants.

The day is driven as the systems would drive it: salespeople confirm orders
in Odoo (ORM), the OMS and the loyalty platform act through their simulators'
``/_sim/`` triggers (signed webhooks back to Odoo), scheduled work runs
through the suite's scheduled methods. ``run_jobs`` performs the queued
jobs (in a test) or waits until the job runner drained them (live run).
"""

import json
import random
import statistics
import time
import urllib.request

SKUS = (("DAY-TEE", "Day T-shirt", 20.0), ("DAY-MUG", "Day mug", 8.0),
        ("DAY-BAG", "Day backpack", 45.0))
CHANNELS = ("web", "store", "marketplace")
STORE_REF = "STORE-DAY"
WAREHOUSE_REF = "WH-DAY"
FINAL_STATES = ("done", "ignored", "failed")


class SimulatorClient:
    """The ``/_sim/`` control API of one simulator (loopback, no auth)."""

    def __init__(self, url):
        self.url = url.rstrip("/")

    def __call__(self, method, path, body=None, timeout=60):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path, data=data, method=method,
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            raw = answer.read()
        return json.loads(raw) if raw else None

    def wait_idle(self, timeout=30):
        return self("POST", "/_sim/wait_idle", {"timeout": timeout}, timeout=timeout + 10)["idle"]


class RetailDay:
    """One day of a retailer, ``size`` orders, seeded (reproducible)."""

    def __init__(self, env, backends, sims, run_jobs, size=30, seed=7, progress=None,
                 lock=None, commit=None):
        self.env = env
        # Live: the job runner's workers only see what this transaction committed.
        self.live = commit is not None
        self.commit = commit or (lambda: None)
        # In a test, Odoo's server thread shares this cursor: webhooks may only
        # come in while the day waits for them (``lock`` is then the
        # registry's test lock, held by the day and released while it waits).
        self.lock = lock
        self.oms, self.loyalty, self.settlement = (
            backends["oms"], backends["loyalty"], backends.get("settlement"))
        self.sims = {name: SimulatorClient(url) for name, url in sims.items()}
        self.run_jobs = run_jobs
        self.size = size
        self.random = random.Random(seed)
        self.progress = progress or (lambda message: None)
        self.orders = env["sale.order"]
        self.cancelled = env["sale.order"]
        self.returns = []
        self.settlement_report = None
        self.refused_redemptions = []
        self.timings = {}

    # ------------------------------------------------------------------ set-up

    def prepare(self):
        env = self.env
        Product = env["product.product"].with_context(active_test=False)
        self.products = Product.browse()
        for sku, name, price in SKUS:
            product = Product.search([("default_code", "=", sku)], limit=1) or Product.create({
                "name": name, "default_code": sku, "type": "consu", "is_storable": True,
                "list_price": price, "taxes_id": [(5, 0, 0)], "invoice_policy": "delivery"})
            self.products |= product
        Warehouse = env["stock.warehouse"]
        self.warehouse = Warehouse.search([("company_id", "=", env.company.id)], limit=1)
        self.store = Warehouse.search([("code", "=", "DAYST")], limit=1) or Warehouse.create(
            {"name": "Day store", "code": "DAYST"})
        Mapping = env["retail.mapping"]
        for warehouse, ref in ((self.warehouse, WAREHOUSE_REF), (self.store, STORE_REF)):
            if not Mapping.search([("backend_id", "=", self.oms.id),
                                   ("mapping_type", "=", "location"),
                                   ("external_value", "=", ref)]):
                Mapping.create({"backend_id": self.oms.id, "mapping_type": "location",
                                "odoo_record": f"stock.warehouse,{warehouse.id}",
                                "external_value": ref})
        Quant = env["stock.quant"]
        for product in self.products:
            for warehouse in (self.warehouse, self.store):
                Quant._update_available_quantity(product, warehouse.lot_stock_id,
                                                 10 * self.size)
        self.customers = env["res.partner"].create([
            {"name": f"Day customer {n}", "email": f"day.customer.{n}.{self.random.random()}"
             f"@example.com", "retail_loyalty_consent": n % 2 == 0}
            for n in range(max(4, self.size // 3))])
        members = self.customers.filtered("retail_loyalty_consent")
        members._loyalty_enroll()
        self._drain("enrollment")
        missing = members.filtered(lambda m: not m.retail_loyalty_member_ref)
        if missing:
            raise RuntimeError(f"enrollment did not complete for {missing.mapped('name')}: " + str(
                self.env["retail.exchange"].sudo().search([("res_id", "in", missing.ids)]).mapped(
                    lambda e: (e.state, e.error, e.attempts))))
        for member in members:
            self.sims["loyalty"]("POST", f"/_sim/members/{member.retail_loyalty_member_ref}/adjust",
                                 {"points": 2000, "reason": "welcome"})
        self._drain("welcome points")  # member.updated webhooks bring the balances
        self.progress(f"set up: {len(self.products)} SKUs in 2 locations, "
                      f"{len(self.customers)} customers ({len(members)} loyalty members)")

    # --------------------------------------------------------------------- day

    def run(self):
        start = time.perf_counter()
        self._step("orders", self._place_orders)
        self._step("cancellations", self._cancel_some)
        self._step("fulfilment", self._fulfil)
        self._step("inventory", self._move_stock)
        self._step("invoicing", self._invoice)
        self._step("returns", self._return_some)
        if self.settlement and "settlement" in self.sims:
            self._step("settlement", self._settle)
        self._step("snapshot", self._snapshot)
        self.timings["day"] = time.perf_counter() - start
        return self.report()

    def _step(self, name, func):
        start = time.perf_counter()
        func()
        self.timings[name] = round(time.perf_counter() - start, 2)
        self.progress(f"{name}: {self.timings[name]} s")

    def _drain(self, what):
        """Let every simulator deliver its webhooks and the jobs run, until calm."""
        for round_ in range(20):
            self.commit()
            started = time.perf_counter()
            self._wait_simulators()
            self.run_jobs()
            if time.perf_counter() - started > 30:
                self.progress(f"{what}: round {round_ + 1} took "
                              f"{time.perf_counter() - started:.0f} s")
            self.env.invalidate_all()
            if all(sim("GET", "/_sim/state")["webhooks"]["idle"] for sim in self.sims.values()) \
                    and not self._busy():
                return
        self.progress(f"{what}: still busy after 20 rounds: " + ", ".join(
            f"{name} {sim('GET', '/_sim/state')['webhooks']['totals']}"
            for name, sim in self.sims.items()))

    def _wait_simulators(self):
        if self.lock is not None:
            self.lock.release()
        try:
            for sim in self.sims.values():
                sim.wait_idle()
        finally:
            if self.lock is not None:
                self.lock.acquire()

    def _unit(self, func, *args):
        """One user action: committed alone and, live, retried on a concurrent
        update as Odoo retries a request (webhook jobs write the same rows)."""
        from psycopg2 import errorcodes

        for attempt in range(6):
            try:
                result = func(*args)
                self.commit()
                return result
            except Exception as exc:
                if not self.live or attempt == 5 or getattr(exc, "pgcode", None) not in (
                        errorcodes.SERIALIZATION_FAILURE, errorcodes.DEADLOCK_DETECTED,
                        errorcodes.LOCK_NOT_AVAILABLE):
                    raise
                self.env.cr.rollback()
                self.env.invalidate_all()
                time.sleep(0.1 * (attempt + 1))
        return None

    def _busy(self):
        return self.env["retail.exchange"].sudo().search_count([
            ("state", "in", ("pending", "retry"))])

    def _place_orders(self):
        for index in range(self.size):
            customer = self.customers[index % len(self.customers)]
            kind = ("ship", "ship", "ship", "ship_from_store", "pickup")[index % 5]
            lines = [(0, 0, {"product_id": product.id,
                             "product_uom_qty": 1 + (index + n) % 3})
                     for n, product in enumerate(self.products) if (index + n) % 4 != 3]
            values = {"partner_id": customer.id, "order_line": lines,
                      "client_order_ref": f"DAY-{CHANNELS[index % 3]}-{index}",
                      "retail_psp_reference": f"PSP-DAY-{index:05d}-{self.random.randint(0, 10**6)}"}
            if kind == "pickup":
                values.update(retail_fulfillment_type="pickup",
                              retail_pickup_warehouse_id=self.store.id)
            redeem = bool(customer.retail_loyalty_member_ref and index % 3 == 0)
            self.orders |= self._unit(self._new_order, values, redeem)
        self.kinds = {order.id: ("ship", "ship", "ship", "ship_from_store", "pickup")[n % 5]
                      for n, order in enumerate(self.orders)}
        for order in self.orders:
            self._unit(order.action_confirm)
        self._drain("orders")

    def _new_order(self, values, redeem):
        from odoo.exceptions import UserError

        order = self.env["sale.order"].create(values)
        if redeem:
            try:
                with self.env.cr.savepoint():
                    order._loyalty_redeem(100)
            except UserError as exc:
                # As at a till: the customer goes on without redeeming.
                self.refused_redemptions.append(str(exc))
        return order

    def _cancel_some(self):
        for index, order in enumerate(self.orders):
            if index % 10 == 7:
                self._unit(order._action_cancel)
                self.cancelled |= order
        self._drain("cancellations")

    def _fulfil(self):
        oms = self.sims["oms"]
        for index, order in enumerate(self.orders - self.cancelled):
            kind = self.kinds[order.id]
            if kind == "pickup":
                ready = oms("POST", f"/_sim/orders/{order.name}/fulfil", {
                    "type": "pickup", "location_ref": STORE_REF,
                    "events": ["accepted", "ready_for_pickup"]})
                oms("POST", f"/_sim/orders/{order.name}/fulfil", {
                    "fulfillment_ref": ready["fulfillment_ref"], "events": ["picked_up"]})
            elif kind == "ship_from_store":
                oms("POST", f"/_sim/orders/{order.name}/fulfil", {
                    "type": "ship_from_store", "location_ref": STORE_REF,
                    "events": ["accepted", "shipped", "delivered"]})
            elif index % 4 == 1 and len(order.order_line) > 1:
                # A split shipment: the first line from the store, the rest from the warehouse.
                first = order.order_line[0]
                oms("POST", f"/_sim/orders/{order.name}/fulfil", {
                    "type": "ship_from_store", "location_ref": STORE_REF,
                    "events": ["accepted", "shipped"],
                    "lines": [{"line_ref": str(first.id), "sku": first.product_id.default_code,
                               "qty": int(first.product_uom_qty)}]})
                oms("POST", f"/_sim/orders/{order.name}/fulfil", {
                    "location_ref": WAREHOUSE_REF, "events": ["shipped", "delivered"]})
            else:
                oms("POST", f"/_sim/orders/{order.name}/fulfil", {
                    "location_ref": WAREHOUSE_REF, "events": ["accepted", "shipped", "delivered"]})
        self._drain("fulfilment")

    def _move_stock(self):
        """Replenish the store from the warehouse: availability moves in both."""
        env = self.env
        picking_type = self.warehouse.int_type_id
        picking = env["stock.picking"].create({
            "picking_type_id": picking_type.id,
            "location_id": self.warehouse.lot_stock_id.id,
            "location_dest_id": self.store.lot_stock_id.id,
            "move_ids": [(0, 0, {"name": product.name, "product_id": product.id,
                                 "product_uom_qty": 5, "product_uom": product.uom_id.id,
                                 "location_id": self.warehouse.lot_stock_id.id,
                                 "location_dest_id": self.store.lot_stock_id.id})
                         for product in self.products]})
        self._unit(self._validate_transfer, picking)
        self._drain("inventory")

    @staticmethod
    def _validate_transfer(picking):
        picking.action_confirm()
        picking.action_assign()
        picking.move_ids.picked = True
        picking.button_validate()

    def _return_some(self):
        oms = self.sims["oms"]
        delivered = (self.orders - self.cancelled).filtered(
            lambda o: o.retail_oms_state == "fulfilled")
        for index, order in enumerate(delivered):
            if index % 6 != 2:
                continue
            line = order.order_line.filtered(
                lambda sol: sol.qty_delivered > 0 and sol.product_id.type == "consu")[:1]
            unit = round(line.price_reduce_taxinc * 10 ** order.currency_id.decimal_places)
            oms("POST", f"/_sim/orders/{order.name}/return", {
                "channel": "store" if index % 2 else "web",
                "lines": [{"line_ref": str(line.id), "sku": line.product_id.default_code,
                           "qty": 1, "reason": "changed_mind",
                           "disposition": "restock" if index % 4 else "unusable",
                           "refund": {"amount": unit, "currency": order.currency_id.name}}]})
        self._drain("returns")
        self.returns = self.env["retail.oms.return"].search(
            [("order_id", "in", self.orders.ids)])
        # Accounting posts the credit notes the returns prepared; the provider
        # refunds the customer under the credit note's number.
        for credit_note in self.returns.credit_note_ids.filtered(lambda m: m.state == "draft"):
            self._unit(credit_note.action_post)
        self._drain("credit notes")

    def _invoice(self):
        """Delivered orders are invoiced (Odoo owns invoicing)."""
        to_invoice = (self.orders - self.cancelled).filtered(
            lambda o: o.invoice_status == "to invoice")
        for order in to_invoice:
            self._unit(lambda o=order: o._create_invoices().action_post())
        self._drain("invoicing")

    def _settle(self):
        """Next morning: the payment provider pays out the day's sales and refunds."""
        from . import settlement_day

        refunds = [{"order": credit_note.line_ids.sale_line_ids.order_id[:1] or ret.order_id,
                    "amount": credit_note.amount_total, "ref": credit_note.name}
                   for ret in self.returns
                   for credit_note in ret.credit_note_ids.filtered(lambda m: m.state == "posted")]
        self.commit()
        self.settlement_report = settlement_day.settle_day(
            self.env, self.sims["settlement"].url, self.settlement,
            self.orders - self.cancelled, refunds, run_jobs=self.run_jobs)
        self.commit()

    def _snapshot(self):
        """The nightly snapshot repairs any drift; then the queues drain."""
        self._unit(self.oms._get_flow("oms_inventory_snapshot")._run_batch)
        self._drain("snapshot")

    # --------------------------------------------------------------- invariants

    def invariants(self):
        """What must hold once the queues are drained: ``{name: [problems]}``."""
        self.env.invalidate_all()
        checks = {
            "orders in the OMS exactly once, same lines": self._check_orders,
            "shipments on exactly one picking": self._check_shipments,
            "stock in the OMS equals Odoo's": self._check_stock,
            "points ledger equals the platform's": self._check_loyalty,
            "payouts post to the cent": self._check_settlement,
            "every message logged, none stuck": self._check_log,
        }
        return {name: check() for name, check in checks.items()}

    def _check_orders(self):
        problems = []
        state = self.sims["oms"]("GET", "/_sim/state")
        sent = state["orders"]
        exported = self.orders.filtered(lambda o: o.name in sent)
        if len(exported) != len(self.orders):
            problems.append(f"{len(self.orders) - len(exported)} confirmed orders never "
                            "reached the OMS")
        ours = [o for o in sent if o.startswith(tuple(self.orders.mapped("name")))]
        if len(ours) != len(set(ours)):
            problems.append("an order exists twice in the OMS")
        for order in exported:
            remote = {line["line_ref"]: line for line in sent[order.name]["lines"]}
            for line in order.order_line.filtered(lambda sol: not sol.display_type):
                if line.retail_loyalty_transaction_id:
                    continue  # the discount is in the totals, not a line to fulfil
                got = remote.get(str(line.id))
                price = round(line.price_unit * 10 ** order.currency_id.decimal_places)
                sent_price = got and got["unit_price"]
                if isinstance(sent_price, dict):
                    sent_price = sent_price.get("amount")
                if not got or got["sku"] != line.product_id.default_code or \
                        sent_price != price or float(got["qty"]) != line.product_uom_qty:
                    problems.append(f"{order.name}: line {line.id} differs in the OMS")
        return problems

    def _check_shipments(self):
        problems = []
        sent = self.sims["oms"]("GET", "/_sim/state")["orders"]
        for order in self.orders:
            for ref, fulfilment in (sent.get(order.name) or {}).get("fulfillments", {}).items():
                if not fulfilment.get("left"):
                    continue
                records = order.retail_oms_fulfillment_ids.filtered(
                    lambda f, r=ref: f.fulfillment_ref == r)
                if len(records) != 1:
                    problems.append(f"{order.name}/{ref}: {len(records)} fulfilments in Odoo")
                    continue
                pickings = records.picking_ids.filtered(lambda p: p.state == "done")
                if len(pickings) != 1:
                    problems.append(f"{order.name}/{ref}: {len(pickings)} done pickings")
                    continue
                done = {}
                for move in pickings.move_ids:
                    key = str(move.sale_line_id.id)
                    done[key] = done.get(key, 0) + move.quantity
                wanted = {line["line_ref"]: line["qty"] for line in fulfilment["lines"]}
                if {k: float(v) for k, v in wanted.items()} != done:
                    problems.append(f"{order.name}/{ref}: quantities {done} != {wanted}")
                numbers = {p["tracking_number"] for p in fulfilment["parcels"]}
                if numbers and not numbers <= set((pickings.retail_tracking_numbers or "")
                                                  .replace(",", " ").split()):
                    problems.append(f"{order.name}/{ref}: tracking {numbers} not on "
                                    f"{pickings.name}")
        return problems

    def _check_stock(self):
        problems = []
        levels = self.sims["oms"]("GET", "/_sim/state")["inventory"]
        remote = {(lv["sku"], lv["location_ref"]): lv for lv in levels}
        pairs = [(product.id, ref) for product in self.products
                 for ref in (WAREHOUSE_REF, STORE_REF)]
        for level in self.oms._oms_inventory_levels(pairs):
            got = remote.get((level["sku"], level["location_ref"]))
            if not got or got["available"] != level["available"]:
                problems.append(f"{level['sku']}@{level['location_ref']}: Odoo "
                                f"{level['available']}, OMS {got and got['available']}")
        return problems

    def _check_loyalty(self):
        from odoo.addons.retail_loyalty_connector.models.retail_flow import _compare

        problems = []
        Txn = self.env["retail.loyalty.transaction"].sudo()
        for member in self.customers.filtered("retail_loyalty_member_ref"):
            ref = member.retail_loyalty_member_ref
            remote = self.sims["loyalty"]("GET", f"/_sim/members/{ref}")["transactions"]
            local = Txn.search([("member_ref", "=", ref), ("state", "in", ("posted", "confirmed"))])
            problems += [f"{ref}: {p['message']}" for p in _compare(local, remote)]
        for txn in Txn.search([("order_id", "in", self.cancelled.ids), ("type", "=", "redeem"),
                               ("state", "=", "confirmed")]):
            if not Txn.search_count([("reverses_id", "=", txn.id), ("state", "=", "posted")]):
                problems.append(f"{txn.order_id.name}: a confirmed redemption on a cancelled "
                                "order was not given back")
        return problems

    def _check_settlement(self):
        if not self.settlement_report:
            return []
        from . import settlement_day

        return settlement_day.settlement_invariants(
            self.env, self.settlement, self.settlement_report)

    def _check_log(self):
        problems = []
        Exchange = self.env["retail.exchange"].sudo()
        stuck = Exchange.search_count([("state", "not in", FINAL_STATES)])
        if stuck:
            problems.append(f"{stuck} messages are neither final nor in the exception queue")
        keys = set(Exchange.search([("direction", "=", "outbound")]).mapped("idempotency_key"))
        events = set(Exchange.search([("direction", "=", "inbound")]).mapped("idempotency_key"))
        for name, sim in self.sims.items():
            for request in sim("GET", "/_sim/requests")["requests"]:
                key = request.get("idempotency_key")
                # Reads belong to the message that made them (a payout's pages).
                if key and request["method"] != "GET" and request["path"].startswith(
                        "/v1/") and not any(
                        key == k or key.startswith(k + ":") for k in keys):
                    problems.append(f"{name}: call {request['endpoint']} with key {key} "
                                    "is not in the message log")
            for delivery in sim("GET", "/_sim/state")["webhooks"]["deliveries"]:
                if delivery["status"] == "delivered" and delivery["event_id"] not in events:
                    problems.append(f"{name}: event {delivery['event_id']} "
                                    f"({delivery['type']}) is not in the message log")
        return problems

    # ------------------------------------------------------------------ report

    def report(self):
        Exchange = self.env["retail.exchange"].sudo()
        flows = {}
        for exchange in Exchange.search([]):
            code = exchange.flow_id.code or exchange.event_type or "-"
            row = flows.setdefault(code, {"messages": 0, "states": {}, "durations": []})
            row["messages"] += 1
            row["states"][exchange.state] = row["states"].get(exchange.state, 0) + 1
            if exchange.duration_ms:
                row["durations"].append(exchange.duration_ms)
        for row in flows.values():
            durations = sorted(row.pop("durations"))
            row["p50_ms"] = statistics.median(durations) if durations else None
            row["p95_ms"] = durations[int(0.95 * (len(durations) - 1))] if durations else None
        exceptions = {}
        for exchange in Exchange.search([("state", "=", "failed")]):
            reason = f"{exchange.flow_id.code}/{exchange.failure_class}: " \
                     f"{(exchange.error or '').splitlines()[0][:120]}"
            exceptions[reason] = exceptions.get(reason, 0) + 1
        return {
            "orders": len(self.orders), "cancelled": len(self.cancelled),
            "fulfilled": len(self.orders.filtered(lambda o: o.retail_oms_state == "fulfilled")),
            "returns": len(self.returns), "refused_redemptions": len(self.refused_redemptions),
            "loyalty_transactions": self.env["retail.loyalty.transaction"].sudo().search_count(
                [("order_id", "in", self.orders.ids)]),
            "settlement": self.settlement_report,
            "flows": flows, "exceptions": exceptions, "seconds": self.timings,
        }
