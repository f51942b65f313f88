# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models


class RetailBackend(models.Model):
    _inherit = "retail.backend"

    kind = fields.Selection(selection_add=[("loyalty", "Loyalty platform")],
                            ondelete={"loyalty": "cascade"})
