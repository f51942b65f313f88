# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..services import matching

IMPORT_FLOW = "settlement_import"
MATCH_FLOW = "settlement_match"


class RetailBackend(models.Model):
    _inherit = "retail.backend"

    kind = fields.Selection(selection_add=[("settlement", "Settlement provider")],
                            ondelete={"settlement": "cascade"})
    settlement_journal_id = fields.Many2one(
        "account.journal", string="Settlement journal", check_company=True,
        domain="[('type', '=', 'general')]",
        help="Journal of the settlement postings (one entry per payout).")
    settlement_outstanding_account_id = fields.Many2one(
        "account.account", string="Bank suspense / outstanding account", check_company=True,
        help="Receives the net payout; bank reconciliation matches the bank statement line "
             "of the payout against it.")
    settlement_receivable_account_id = fields.Many2one(
        "account.account", string="Receivable account (fallback)", check_company=True,
        help="Cleared for sales and refunds when the customer has no receivable account.")
    settlement_chargeback_account_id = fields.Many2one(
        "account.account", string="Chargeback account", check_company=True)
    settlement_adjustment_account_id = fields.Many2one(
        "account.account", string="Adjustment account", check_company=True)
    settlement_fee_account_id = fields.Many2one(
        "account.account", string="Fee account (default)", check_company=True,
        help="Fee expenses of categories without their own account.")
    settlement_fee_account_ids = fields.One2many(
        "retail.settlement.fee.account", "backend_id", string="Fee accounts by category")
    settlement_key_order = fields.Char(
        string="Matching key order", default=",".join(matching.DEFAULT_KEY_ORDER),
        help="Comma-separated keys tried in order: merchant_ref (order number or customer "
             "reference), psp_ref (payment reference), refund_ref (credit note number).")
    settlement_tolerance = fields.Integer(
        string="Rounding tolerance (minor units)", default=0,
        help="A settled amount within this many cents of Odoo's amount still matches.")
    settlement_malformed_policy = fields.Selection(
        [("refuse", "Refuse the whole file"), ("exception", "Import, malformed rows as exceptions")],
        string="Malformed rows", default="refuse", required=True)
    settlement_auto_post = fields.Boolean(
        string="Post matched batches on schedule",
        help="The import flow's scheduled run also posts the batches that matched fully.")
    settlement_reconcile = fields.Boolean(
        string="Reconcile with invoices", default=True,
        help="Posting reconciles the cleared receivable with the open invoices and credit "
             "notes of the matched orders.")
    settlement_since = fields.Date(
        string="Import payouts paid since",
        help="First date asked from the provider; empty means the last 30 days.")
    settlement_expected_days = fields.Integer(
        string="Settlement expected within (days)", default=3,
        help="A payout is settled in time when it is paid within this many days of its "
             "latest transaction.")

    @api.model
    def _retail_cache_fields(self):
        return super()._retail_cache_fields() | {
            name for name in self._fields if name.startswith("settlement_")}

    @api.constrains("settlement_key_order")
    def _check_settlement_key_order(self):
        for backend in self.filtered(lambda b: b.kind == "settlement"):
            keys = backend._settlement_keys()
            if not keys or len(set(keys)) != len(keys) or set(keys) - set(matching.KEYS):
                raise ValidationError(self.env._(
                    "The matching key order is a comma-separated list of distinct keys "
                    "among %s.", ", ".join(matching.KEYS)))

    @api.model_create_multi
    def create(self, vals_list):
        backends = super().create(vals_list)
        backends.filtered(lambda b: b.kind == "settlement")._settlement_fill_defaults()
        return backends

    def _retail_default_flows(self):
        flows = super()._retail_default_flows()
        if self.kind != "settlement":
            return flows
        return flows + [
            {"name": "Settlement import", "code": IMPORT_FLOW, "direction": "inbound",
             "mode": "batch", "channel": "root.retail.settlement", "sequence": 10,
             "interval_number": 1, "interval_type": "hours"},
            {"name": "Settlement matching", "code": MATCH_FLOW, "direction": "inbound",
             "mode": "realtime", "channel": "root.retail.settlement", "sequence": 20},
        ]

    def _settlement_keys(self):
        self.ensure_one()
        return tuple(k.strip() for k in (self.settlement_key_order or "").split(",") if k.strip())

    def _settlement_fill_defaults(self):
        """Give a new settlement backend the company's usual accounts, so that
        posting works out of the box; finance refines them on the form."""
        Account = self.env["account.account"].sudo()
        for backend in self:
            company = backend.company_id
            domain = [*Account._check_company_domain(company)]

            def first(account_type, domain=domain):
                return Account.search(domain + [("account_type", "=", account_type)], limit=1)

            journal = self.env["account.journal"].sudo().search([
                *self.env["account.journal"]._check_company_domain(company),
                ("type", "=", "general")], limit=1)
            values = {}
            defaults = {
                "settlement_journal_id": journal,
                "settlement_outstanding_account_id":
                    company.account_journal_suspense_account_id or first("asset_current"),
                "settlement_receivable_account_id": first("asset_receivable"),
                "settlement_chargeback_account_id": first("asset_receivable"),
                "settlement_adjustment_account_id": first("expense"),
                "settlement_fee_account_id": first("expense"),
            }
            for name, record in defaults.items():
                if not backend[name] and record:
                    values[name] = record.id
            if values:
                backend.write(values)

    def action_settlement_import_now(self):
        self.ensure_one()
        return self._get_flow(IMPORT_FLOW).action_run_now()

    def action_settlement_upload(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "retail_settlement.retail_settlement_import_wizard_action")
        action["context"] = {"default_backend_id": self.id}
        return action
