# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models

# How far a fulfillment has gone: an event at or below the current rank is a
# duplicate or arrived late, and never moves the fulfillment backwards.
RANK = {"accepted": 1, "ready_for_pickup": 2, "shipped": 3, "picked_up": 4, "delivered": 4}
SHIPPED_RANK = RANK["shipped"]


class RetailOmsFulfillment(models.Model):
    """One fulfillment the OMS reported for an order (a split shipment is
    several). The OMS owns these states; Odoo records them and applies the
    shipped quantities to its deliveries exactly once."""

    _name = "retail.oms.fulfillment"
    _description = "OMS Fulfillment"
    _order = "id desc"
    _rec_name = "fulfillment_ref"

    backend_id = fields.Many2one("retail.backend", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    order_id = fields.Many2one("sale.order", required=True, ondelete="cascade", index=True)
    fulfillment_ref = fields.Char(required=True)
    fulfillment_type = fields.Selection(
        [("ship", "Ship"), ("pickup", "Pickup in store"), ("ship_from_store", "Ship from store")],
        string="Type")
    location_ref = fields.Char(string="OMS location")
    state = fields.Selection(
        [("accepted", "Accepted"), ("ready_for_pickup", "Ready for pickup"),
         ("shipped", "Shipped"), ("picked_up", "Picked up"), ("delivered", "Delivered"),
         ("cancelled", "Cannot be fulfilled")],
        required=True)
    reason = fields.Char(help="Why the OMS cannot fulfil these lines.")
    rank = fields.Integer(readonly=True)
    picking_ids = fields.Many2many("stock.picking", string="Deliveries validated")
    tracking_numbers = fields.Char()
    carrier = fields.Char()
    last_exchange_id = fields.Many2one("retail.exchange", ondelete="set null")

    _sql_constraints = [
        ("ref_unique", "UNIQUE(backend_id, fulfillment_ref)",
         "A fulfillment reference is unique per OMS backend."),
    ]
