# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models

from ..services.parsers import FEE_CATEGORIES

FEE_CATEGORY_SELECTION = [
    ("processing", "Processing fee"), ("commission", "Commission"), ("markup", "Markup"),
    ("scheme_fees", "Scheme fees"), ("interchange", "Interchange"),
    ("chargeback", "Chargeback fee"), ("service", "Service fee"), ("other", "Other fee"),
]
assert [c for c, _label in FEE_CATEGORY_SELECTION] == list(FEE_CATEGORIES)


class RetailSettlementFeeAccount(models.Model):
    """Where a settlement backend posts one category of fees, and its tax.

    The fee a provider reports includes the tax it charged (marketplace
    commissions carry VAT, card processing fees usually do not): a tax here
    splits the fee into the expense and the recoverable tax.
    """

    _name = "retail.settlement.fee.account"
    _description = "Settlement Fee Account"
    _order = "backend_id, category"
    _check_company_auto = True

    backend_id = fields.Many2one("retail.backend", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    category = fields.Selection(FEE_CATEGORY_SELECTION, required=True)
    account_id = fields.Many2one("account.account", required=True, check_company=True)
    tax_id = fields.Many2one(
        "account.tax", check_company=True, domain="[('type_tax_use', '=', 'purchase')]",
        help="Tax included in the reported fee.")

    _sql_constraints = [
        ("category_backend_unique", "UNIQUE(backend_id, category)",
         "A fee category has one account per backend."),
    ]
