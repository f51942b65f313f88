# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import timedelta
import uuid

from odoo import fields, models

from ..services.payloads import content_hash, minor_units
from .retail_backend import INVENTORY_SYNC, ORDER_EXPORT

PRODUCT_PUSH = "oms_product_push"
MAX_PRODUCTS_PER_CALL = 1000


class RetailFlow(models.Model):
    _inherit = "retail.flow"

    # Business KPIs of the OMS on the dashboard cards (last 24 hours).
    stat_oms_orders = fields.Integer(string="Orders confirmed (24h)",
                                     compute="_compute_oms_kpis")
    stat_oms_synced_rate = fields.Float(string="Orders in the OMS (%)",
                                        compute="_compute_oms_kpis")
    stat_oms_inventory_waiting = fields.Integer(
        string="Stock changes waiting", compute="_compute_oms_kpis",
        help="(product, location) pairs changed and not yet sent to the OMS.")
    stat_oms_inventory_lag = fields.Float(
        string="Inventory sync lag (s)", compute="_compute_oms_kpis",
        help="While changes wait: seconds since availability last reached the OMS.")

    def _compute_oms_kpis(self):
        since = fields.Datetime.now() - timedelta(hours=24)
        for flow in self:
            values = {"stat_oms_orders": 0, "stat_oms_synced_rate": 0.0,
                      "stat_oms_inventory_waiting": 0, "stat_oms_inventory_lag": 0.0}
            backend = flow.backend_id
            if flow.id and flow.code == ORDER_EXPORT:
                orders = self.env["sale.order"].sudo().search([
                    ("state", "=", "sale"), ("date_order", ">=", since),
                    ("company_id", "in", [backend.company_id.id, False])])
                synced = orders.filtered(lambda o: o.retail_sync_state == "synced")
                values["stat_oms_orders"] = len(orders)
                values["stat_oms_synced_rate"] = \
                    100.0 * len(synced) / len(orders) if orders else 100.0
            elif flow.id and flow.code == INVENTORY_SYNC:
                self.env.cr.execute(
                    "SELECT count(*) FROM retail_oms_inventory_dirty WHERE backend_id = %s",
                    [backend.id])
                waiting = self.env.cr.fetchone()[0]
                values["stat_oms_inventory_waiting"] = waiting
                if waiting:
                    last = self.env["retail.exchange"].sudo().search(
                        [("flow_id", "=", flow.id), ("state", "=", "done")],
                        order="processed_at desc", limit=1).processed_at
                    values["stat_oms_inventory_lag"] = (
                        fields.Datetime.now() - last).total_seconds() if last else 0.0
            flow.update(values)

    def _retail_batch_oms_inventory_snapshot(self):
        """Full availability of every stocked SKU at every mapped location.

        Repairs drift: whatever the OMS holds, this run's levels carry a
        newer sequence than any before, so they win.
        """
        self.ensure_one()
        backend = self.backend_id
        refs = [ref for ref, _location in backend._oms_mapped_locations()]
        products = self.env["product.product"].sudo().search([
            ("default_code", "!=", False), ("is_storable", "=", True)])
        backend._oms_inventory_mark({(backend.id, pid, ref)
                                     for pid in products.ids for ref in refs})
        return backend._job_oms_inventory_flush()

    def _retail_batch_oms_product_push(self, chunk=MAX_PRODUCTS_PER_CALL):
        """Push saleable products whose OMS view changed since the last push.

        Odoo owns products and prices: the OMS receives SKU, name, barcode,
        price and whether it is still sold. "Changed" is judged on content (a
        hash per product kept on its binding), so a price changed through
        the template, an archived product or a new barcode are all caught,
        and an unchanged catalogue sends nothing. Rows go in calls of at
        most 1,000 (the contract's limit), each its own exchange.
        """
        self.ensure_one()
        backend = self.backend_id
        rows = self._oms_changed_product_rows()
        Exchange = self.env["retail.exchange"].sudo()
        exchanges = Exchange.browse()
        run = uuid.uuid4().hex  # each run is its own operation; retries keep its key
        for start in range(0, len(rows), chunk):
            part = rows[start:start + chunk]
            exchanges |= Exchange._enqueue_outbound(
                backend, self, idempotency_key=f"products:{run}:{start // chunk}",
                payload={"products": part},
                external_ref=self.env._("%(n)s products", n=len(part)))
        return exchanges

    def _oms_changed_product_rows(self):
        backend = self.backend_id
        company = backend.company_id
        currency = company.currency_id
        Product = self.env["product.product"].sudo().with_company(company).with_context(
            active_test=False)
        bindings = self.env["retail.binding"].sudo().search([
            ("backend_id", "=", backend.id), ("res_model", "=", "product.product")])
        known = {binding.res_id: binding.content_hash for binding in bindings}
        products = Product.search([
            ("default_code", "!=", False), ("type", "=", "consu"),
            "|", ("id", "in", list(known)),
            "&", ("sale_ok", "=", True), ("active", "=", True)])
        rows = []
        for product in products:
            row = {
                "sku": product.default_code,
                "name": product.name,
                "barcode": product.barcode or None,
                "price": minor_units(product.lst_price, currency.decimal_places),
                "currency": currency.name,
                "active": bool(product.active and product.sale_ok),
            }
            if known.get(product.id) != content_hash(row):
                rows.append(row)
        return rows

