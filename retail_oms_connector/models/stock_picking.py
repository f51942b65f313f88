# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models


class StockPicking(models.Model):
    _inherit = "stock.picking"

    retail_tracking_numbers = fields.Char(
        string="Tracking numbers", copy=False, readonly=True,
        help="Parcels reported by the OMS for this delivery.")
    retail_carrier = fields.Char(string="Carrier (OMS)", copy=False, readonly=True)
