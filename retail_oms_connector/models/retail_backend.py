# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, fields, models, tools

ORDER_EXPORT = "oms_order_export"
INVENTORY_SYNC = "oms_inventory_sync"
FULFILLMENT_EVENTS = "oms_fulfillment_events"
ORDER_CANCEL = "oms_order_cancel"
ORDER_UPDATE = "oms_order_update"
RETURN_EVENTS = "oms_return_events"
INVENTORY_SNAPSHOT = "oms_inventory_snapshot"
INVENTORY_COALESCE_SECONDS = 1


class RetailBackend(models.Model):
    _inherit = "retail.backend"

    kind = fields.Selection(selection_add=[("oms", "Order management system")],
                            ondelete={"oms": "cascade"})
    oms_export_condition = fields.Selection(
        [("confirmed", "On confirmation"), ("authorized", "Payment authorized"),
         ("captured", "Payment captured")],
        string="Export orders", default="confirmed",
        help="Orders are sent to the OMS once confirmed and, if set, once their payment "
             "reaches this status.")
    oms_default_channel = fields.Char(
        string="Default channel", default="web",
        help="Channel code sent when the order's sales team has no channel mapping.")

    @api.model
    def _retail_cache_fields(self):
        return super()._retail_cache_fields() | {
            name for name in self._fields if name.startswith("oms_")}

    def _retail_event_subject_keys(self):
        if self.kind != "oms":
            return super()._retail_event_subject_keys()
        return ("order_ref", "return_ref")

    def _retail_default_flows(self):
        flows = super()._retail_default_flows()
        if self.kind != "oms":
            return flows
        return flows + [
            {"name": "Order export", "code": ORDER_EXPORT, "direction": "outbound",
             "mode": "realtime", "channel": "root.retail.oms", "sequence": 10},
            {"name": "Order cancellation", "code": ORDER_CANCEL, "direction": "outbound",
             "mode": "realtime", "channel": "root.retail.oms", "sequence": 12},
            {"name": "Order quantity reductions", "code": ORDER_UPDATE, "direction": "outbound",
             "mode": "realtime", "channel": "root.retail.oms", "sequence": 13},
            {"name": "Fulfillment events", "code": FULFILLMENT_EVENTS, "direction": "inbound",
             "mode": "realtime", "channel": "root.retail.oms", "sequence": 15,
             "event_types": "fulfillment.accepted,fulfillment.ready_for_pickup,"
                            "fulfillment.shipped,fulfillment.picked_up,fulfillment.delivered,"
                            "fulfillment.cancelled,order.cancelled"},
            {"name": "Returns", "code": RETURN_EVENTS, "direction": "inbound",
             "mode": "realtime", "channel": "root.retail.oms", "sequence": 17,
             "event_types": "return.received"},
            {"name": "Inventory availability", "code": INVENTORY_SYNC, "direction": "outbound",
             "mode": "realtime", "channel": "root.retail.oms", "sequence": 20},
            {"name": "Inventory snapshot", "code": INVENTORY_SNAPSHOT, "direction": "outbound",
             "mode": "batch", "channel": "root.retail.oms", "sequence": 30,
             "interval_number": 1, "interval_type": "days"},
            {"name": "Product push", "code": "oms_product_push", "direction": "outbound",
             "mode": "batch", "channel": "root.retail.oms", "sequence": 40,
             "interval_number": 1, "interval_type": "hours"},
        ]

    def _oms_export_allowed(self, order):
        """True when ``order`` satisfies this backend's payment condition."""
        self.ensure_one()
        condition = self.oms_export_condition
        if condition == "confirmed":
            return True
        status = order.retail_payment_status
        return status == "captured" or (condition == "authorized" and status == "authorized")

    # ------------------------------------------------------------- inventory

    def init(self):
        result = super().init()
        # Changed (product, location) pairs waiting for the next flush: the
        # coalescing buffer of the inventory flow, shared by every worker.
        self.env.cr.execute("""
            CREATE TABLE IF NOT EXISTS retail_oms_inventory_dirty (
                backend_id integer NOT NULL REFERENCES retail_backend(id) ON DELETE CASCADE,
                product_id integer NOT NULL,
                location_ref varchar NOT NULL,
                PRIMARY KEY (backend_id, product_id, location_ref)
            )""")
        # One increasing sequence for availability levels: a later flush
        # always carries a higher number, so the OMS can discard stale ones.
        self.env.cr.execute("CREATE SEQUENCE IF NOT EXISTS retail_oms_inventory_seq")
        return result

    @api.model
    @tools.ormcache()
    def _oms_inventory_targets(self):
        """``(backend id, location_ref, parent_path)`` of every mapped location
        of OMS backends with an active inventory flow (cached)."""
        targets = []
        for backend in self.sudo().search([("kind", "=", "oms")]):
            if not backend._get_flow(INVENTORY_SYNC, raise_if_missing=False).active:
                continue
            for ref, location in backend._oms_mapped_locations():
                targets.append((backend.id, ref, location.parent_path))
        return tuple(targets)

    def _oms_mapped_locations(self):
        """``(location_ref, stock.location)`` pairs from the location mappings."""
        self.ensure_one()
        pairs = []
        for mapping in self.env["retail.mapping"].sudo().search([
                ("backend_id", "=", self.id), ("mapping_type", "=", "location")]):
            record = mapping.odoo_record
            if record and record._name == "stock.warehouse":
                record = record.lot_stock_id
            if record and record._name == "stock.location":
                pairs.append((mapping.external_value, record))
        return pairs

    @api.model
    def _oms_inventory_precommit(self):
        """Before commit: store the transaction's changed pairs and make sure
        each backend has a flush job waiting (one job, whatever the burst)."""
        pending = self.env.cr.precommit.data.pop("retail_oms_inventory", set())
        self._oms_inventory_mark(pending)

    @api.model
    def _oms_inventory_mark(self, pairs):
        if not pairs:
            return
        rows = list(pairs)
        for start in range(0, len(rows), 5000):
            chunk = rows[start:start + 5000]
            self.env.cr.execute(
                "INSERT INTO retail_oms_inventory_dirty (backend_id, product_id, location_ref) "
                "SELECT * FROM unnest(%s::int[], %s::int[], %s::varchar[]) "
                "ON CONFLICT DO NOTHING",
                [[r[0] for r in chunk], [r[1] for r in chunk], [r[2] for r in chunk]])
        for backend in self.sudo().browse({r[0] for r in rows}):
            backend._oms_inventory_enqueue_flush()

    @api.model
    def _cron_oms_inventory_sweep(self):
        """Safety net: buffered pairs with no flush job to send them.

        A transaction can find the flush job still waiting and queue none,
        while that job already took the buffer before the transaction
        committed; its pairs would then wait for the next stock change.
        """
        self.env.cr.execute("SELECT DISTINCT backend_id FROM retail_oms_inventory_dirty")
        backend_ids = [row[0] for row in self.env.cr.fetchall()]
        for backend in self.sudo().browse(backend_ids).exists():
            backend._oms_inventory_enqueue_flush()
        return len(backend_ids)

    def _oms_inventory_enqueue_flush(self):
        self.ensure_one()
        flow = self._get_flow(INVENTORY_SYNC)
        self.with_user(self.integration_user_id).with_context(
            allowed_company_ids=[self.company_id.id]).with_delay(
            channel=flow.channel, priority=flow.priority,
            # Coalescing: moves of the next moment join the same flush.
            eta=INVENTORY_COALESCE_SECONDS,
            identity_key=f"retail-oms-inventory-flush:{self.id}",
            description=self.env._("%s: inventory availability", self.name),
        )._job_oms_inventory_flush()

    def _job_oms_inventory_flush(self, chunk=1000):
        """Turn the buffered pairs into ``PUT /v1/inventory`` messages.

        Takes every waiting pair at once (they may come from many moves),
        computes the current availability of each in one query per mapped
        location, numbers them with one new sequence value, and records one
        exchange per call of at most 1,000 levels.
        """
        if not self.exists():
            return self.env._("The backend was deleted.")
        self.ensure_one()
        self.env.cr.execute(
            "DELETE FROM retail_oms_inventory_dirty WHERE backend_id = %s "
            "RETURNING product_id, location_ref", [self.id])
        pairs = self.env.cr.fetchall()
        if not pairs:
            return self.env._("Nothing to send.")
        levels = self._oms_inventory_levels(pairs)
        self.env.cr.execute("SELECT nextval('retail_oms_inventory_seq')")
        sequence = self.env.cr.fetchone()[0]
        for level in levels:
            level["sequence"] = sequence
        Exchange = self.env["retail.exchange"].sudo()
        flow = self._get_flow(INVENTORY_SYNC)
        for start in range(0, len(levels), chunk):
            part = levels[start:start + chunk]
            Exchange._enqueue_outbound(
                self, flow, idempotency_key=f"inventory:{sequence}:{start // chunk}",
                payload={"levels": part},
                external_ref=self.env._("%(n)s levels (#%(seq)s)", n=len(part), seq=sequence))
        return self.env._("%(n)s levels in %(calls)s calls.", n=len(levels),
                          calls=-(-len(levels) // chunk))

    def _oms_inventory_levels(self, pairs):
        """Current ``available`` and ``on_hand`` of (product id, location_ref) pairs."""
        self.ensure_one()
        locations = dict(self._oms_mapped_locations())
        by_ref = {}
        for product_id, ref in pairs:
            by_ref.setdefault(ref, set()).add(product_id)
        Quant = self.env["stock.quant"].sudo()
        Product = self.env["product.product"].sudo().with_context(active_test=False)
        levels = []
        for ref, product_ids in by_ref.items():
            location = locations.get(ref)
            if not location:
                continue  # the mapping went away since the move: nothing to say
            totals = {
                product.id: (quantity, reserved) for product, quantity, reserved in
                Quant._read_group(
                    [("product_id", "in", list(product_ids)),
                     ("location_id", "child_of", location.id)],
                    ["product_id"], ["quantity:sum", "reserved_quantity:sum"])}
            for product in Product.browse(sorted(product_ids)):
                if not product.default_code:
                    continue
                quantity, reserved = totals.get(product.id, (0.0, 0.0))
                levels.append({
                    "sku": product.default_code, "location_ref": ref,
                    "available": _units(quantity - reserved), "on_hand": _units(quantity)})
        return levels


def _units(quantity):
    """Whole units as integers, as the OMS counts them."""
    return int(quantity) if float(quantity).is_integer() else quantity
