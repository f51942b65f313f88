# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, fields, models, tools
from odoo.exceptions import UserError

from odoo.addons.retail_integration_base.services import errors

from ..services.payloads import minor_units
from .retail_backend import ORDER_CANCEL, ORDER_EXPORT

OMS_STATE_RANK = {"exported": 1, "accepted": 2, "ready_for_pickup": 3,
                  "partially_fulfilled": 4, "fulfilled": 5, "returned": 6}


class SaleOrder(models.Model):
    _inherit = "sale.order"

    retail_payment_status = fields.Selection(
        [("none", "Not paid"), ("authorized", "Authorized"), ("captured", "Captured")],
        string="Payment status", default="none", copy=False, tracking=True,
        help="Tracked for the OMS export condition of the backend.")
    retail_psp_reference = fields.Char(string="PSP reference", copy=False)
    retail_oms_state = fields.Selection(
        [("exported", "Exported"), ("accepted", "Accepted"),
         ("ready_for_pickup", "Ready for pickup"),
         ("partially_fulfilled", "Partially fulfilled"), ("fulfilled", "Fulfilled"),
         ("returned", "Returned")],
        string="OMS state", copy=False, readonly=True, index=True,
        help="Fulfillment state as the OMS reported it (the OMS owns it).")
    retail_fulfillment_type = fields.Selection(
        [("ship", "Home delivery"), ("pickup", "Pick up in store")],
        string="Fulfillment", default="ship", required=True, copy=False,
        help="How the customer gets the goods; the OMS routes the order accordingly.")
    retail_pickup_warehouse_id = fields.Many2one(
        "stock.warehouse", string="Pickup store", copy=False,
        help="The store where the customer collects the order (buy online, pick up in "
             "store); it needs a location mapping on the OMS backend.")
    retail_oms_fulfillment_ids = fields.One2many("retail.oms.fulfillment", "order_id")
    retail_oms_return_ids = fields.One2many("retail.oms.return", "order_id")

    def action_confirm(self):
        result = super().action_confirm()
        self._retail_oms_export(touch_binding=False)
        return result

    def _prepare_confirmation_values(self):
        # The order shows "pending" from the confirmation's own UPDATE: the
        # hot path creates no binding and writes the order only once.
        values = super()._prepare_confirmation_values()
        if self and all(order._retail_oms_export_backends() for order in self):
            values["retail_sync_state"] = "pending"
        return values

    def action_cancel(self):
        # Refuse before the cancel wizard opens, so the user reads why at once.
        self._retail_oms_check_cancellable()
        return super().action_cancel()

    def _action_cancel(self):
        self._retail_oms_check_cancellable()
        result = super()._action_cancel()
        if not self.env.context.get("retail_oms_cancelled_by_oms"):
            self._retail_oms_cancel()
        return result

    def _retail_oms_check_cancellable(self):
        """The OMS owns shipment states: what it shipped cannot be cancelled here."""
        for order in self.filtered("retail_oms_fulfillment_ids"):
            shipped = order.retail_oms_fulfillment_ids.filtered(lambda f: f.rank >= 3)
            if shipped:
                raise UserError(self.env._(
                    "%(order)s cannot be cancelled: the OMS already shipped it "
                    "(%(refs)s). Record a return instead.", order=order.name,
                    refs=", ".join(shipped.mapped("fulfillment_ref"))))

    def _retail_oms_cancel(self):
        """Tell the OMS, or withdraw an export it never received."""
        Exchange = self.env["retail.exchange"].sudo()
        for order in self:
            for export in order._retail_oms_exports():
                if export.state in ("pending", "retry", "failed"):
                    # The OMS never got it: nothing to cancel there.
                    export.write({"state": "ignored", "next_retry_at": False})
                    export._audit(self.env._("Order cancelled before it reached the OMS."))
                    continue
                if export.state != "done":
                    continue
                backend = export.backend_id
                flow = backend._get_flow(ORDER_CANCEL, raise_if_missing=False)
                if flow.active:
                    Exchange._enqueue_outbound(
                        backend, flow, record=order,
                        idempotency_key=f"order-cancel:{order.name}:{backend.id}",
                        payload={"order_ref": order.name, "reason": "cancelled_in_odoo"},
                        external_ref=order.name)

    def write(self, vals):
        result = super().write(vals)
        if "retail_payment_status" in vals:
            self.filtered(lambda o: o.state == "sale")._retail_oms_export()
        return result

    @api.model
    @tools.ormcache("company_id")
    def _retail_oms_targets(self, company_id):
        """``(backend id, order export flow id)`` of the OMS backends of a
        company whose order export flow is active. Cached: it runs on every
        confirmation; backends and flows clear the cache when they change."""
        targets = []
        for backend in self.env["retail.backend"].sudo().search([
                ("kind", "=", "oms"), ("company_id", "=", company_id)]):
            flow = backend._get_flow(ORDER_EXPORT, raise_if_missing=False)
            if flow.active:
                targets.append((backend.id, flow.id))
        return tuple(targets)

    def _retail_oms_update_state(self, event):
        """Follow the OMS's fulfillment progress without ever going back."""
        for order in self:
            if event in ("shipped", "picked_up", "delivered"):
                # Fulfilled once nothing is left to deliver: what the OMS could
                # not fulfil was taken out of the deliveries.
                left = order.picking_ids.filtered(
                    lambda p: p.picking_type_code == "outgoing"
                    and p.state not in ("done", "cancel"))
                state = "partially_fulfilled" if left else "fulfilled"
            elif event == "ready_for_pickup":
                state = "ready_for_pickup"
            else:
                state = "accepted"
            order_rank = OMS_STATE_RANK.get(order.retail_oms_state, 0)
            if OMS_STATE_RANK[state] > order_rank:
                order.with_context(tracking_disable=True).retail_oms_state = state

    def _retail_oms_returned(self, oms_return):
        """Hook: a return from the OMS was applied to this order.

        Override (calling ``super()``) to react, e.g. to reverse loyalty
        points in proportion to ``oms_return``.
        """
        self.ensure_one()
        if not self.order_line.filtered(lambda line: line.qty_delivered > 0):
            self.with_context(tracking_disable=True).retail_oms_state = "returned"

    def _retail_oms_exports(self):
        """This order's export messages, whatever their state."""
        self.ensure_one()
        return self.env["retail.exchange"].sudo().search([
            ("res_model", "=", "sale.order"), ("res_id", "=", self.id),
            ("flow_id.code", "=", ORDER_EXPORT)])

    def _retail_oms_export_backends(self):
        """The OMS backends this order goes to now (payment condition met)."""
        self.ensure_one()
        backends = self.env["retail.backend"].sudo().browse(
            [backend_id for backend_id, _flow in self._retail_oms_targets(self.company_id.id)])
        return backends.filtered(lambda backend: backend._oms_export_allowed(self))

    def _retail_oms_export(self, touch_binding=True):
        """Record and enqueue the export of confirmed orders (nothing slow here).

        The idempotency key is stable per order and backend, so confirming,
        re-confirming or a payment update never sends an order twice.
        """
        Exchange = self.env["retail.exchange"].sudo()
        Flow = self.env["retail.flow"].sudo()
        for order in self:
            flows = dict(self._retail_oms_targets(order.company_id.id))
            for backend in order._retail_oms_export_backends():
                Exchange._enqueue_outbound(
                    backend, Flow.browse(flows[backend.id]), record=order,
                    idempotency_key=f"order:{order.name}:{backend.id}",
                    external_ref=order.name,
                    touch_binding=touch_binding or order.retail_sync_state != "pending")

    # --------------------------------------------------------------- payloads

    def _retail_oms_order_payload(self, backend):
        """The ``POST /v1/orders`` body (CONTRACTS.md), amounts in minor units.

        Override ``_prepare_retail_oms_line_values`` to add line data.
        """
        self.ensure_one()
        currency = self.currency_id
        Mapping = self.env["retail.mapping"]
        channel = (Mapping._to_external(backend, "channel", self.team_id,
                                        default=backend.oms_default_channel or "web")
                   if self.team_id else backend.oms_default_channel or "web")
        partner = self.partner_id
        shipping = self.partner_shipping_id or partner
        pickup = self.retail_fulfillment_type == "pickup"
        if pickup and not self.retail_pickup_warehouse_id:
            raise errors.RetailIntegrationError(
                self.env._("%s is to be picked up in store but names no store.", self.name),
                errors.VALIDATION)
        lines = [self._prepare_retail_oms_line_values(line, currency)
                 for line in self.order_line.filtered(
                     lambda line: not line.display_type and line.product_id.type == "consu")]
        if not lines:
            raise errors.RetailIntegrationError(
                self.env._("Order %s has no goods to fulfil.", self.name), errors.VALIDATION)
        return {
            "order_ref": self.name,
            "channel": channel,
            "placed_at": (self.date_order or fields.Datetime.now()).strftime(
                "%Y-%m-%dT%H:%M:%S+00:00"),
            "currency": currency.name,
            "totals": {
                "untaxed": minor_units(self.amount_untaxed, currency.decimal_places),
                "tax": minor_units(self.amount_tax, currency.decimal_places),
                "total": minor_units(self.amount_total, currency.decimal_places),
            },
            "customer": {
                "partner_ref": partner.ref or f"odoo-partner-{partner.id}",
                "member_ref": None,
                "email": partner.email or None,
                "phone": partner.phone or partner.mobile or None,
                "name": partner.name,
            },
            "ship_to": {
                "name": shipping.name, "street": shipping.street or None,
                "city": shipping.city or None, "zip": shipping.zip or None,
                "country": shipping.country_id.code or None,
            },
            "fulfillment": {
                "type": "pickup" if pickup else "ship",
                "pickup_location_ref": Mapping._to_external(
                    backend, "location", self.retail_pickup_warehouse_id) if pickup else None,
            },
            "payment": {
                "status": self.retail_payment_status
                if self.retail_payment_status != "none" else "authorized",
                "psp_reference": self.retail_psp_reference or None,
            },
            "lines": lines,
        }

    def _prepare_retail_oms_line_values(self, line, currency):
        sku = line.product_id.default_code
        if not sku:
            raise errors.RetailIntegrationError(
                self.env._("Product %s has no internal reference: the OMS needs it as SKU.",
                  line.product_id.display_name), errors.VALIDATION,
                details=[{"line": line.id, "field": "product.default_code"}])
        gross = line.price_unit * line.product_uom_qty
        return {
            "line_ref": str(line.id),
            "sku": sku,
            # The OMS counts units: whole quantities travel as integers.
            "qty": int(line.product_uom_qty) if float(line.product_uom_qty).is_integer()
            else line.product_uom_qty,
            "unit_price": minor_units(line.price_unit, currency.decimal_places),
            "discount": minor_units(gross - line.price_subtotal, currency.decimal_places),
            "tax": minor_units(line.price_tax, currency.decimal_places),
        }
