# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, fields, models

from ..services import errors

SYNC_STATES = [
    ("not_synced", "Not synced"),
    ("pending", "Pending"),
    ("synced", "Synced"),
    ("error", "Error"),
]
# The summary shown on a document with several backends is the most urgent.
STATE_PRIORITY = {"error": 3, "pending": 2, "synced": 1, "not_synced": 0}


class RetailBinding(models.Model):
    """The link between one Odoo record and its twin in one external system.

    Unique per backend and record, and per backend, model and external ID.
    ``external_sequence`` holds the highest event sequence applied, so that a
    stale event never moves the document backwards; ``external_state`` is
    the partner's own state of the object (a connector's vocabulary).
    """

    _name = "retail.binding"
    _description = "Retail Integration Binding"
    _order = "id desc"
    _rec_name = "external_id"

    backend_id = fields.Many2one("retail.backend", required=True, index=True, ondelete="cascade")
    company_id = fields.Many2one("res.company", readonly=True, index=True)
    res_model = fields.Char(required=True, index=True, string="Model")
    res_id = fields.Many2oneReference(
        required=True, index=True, model_field="res_model", string="Record ID")
    external_id = fields.Char(string="External ID", index=True)
    sync_state = fields.Selection(SYNC_STATES, required=True, default="not_synced", index=True)
    external_state = fields.Char()
    external_sequence = fields.Integer(default=0)
    last_sync_at = fields.Datetime()
    last_exchange_id = fields.Many2one("retail.exchange", ondelete="set null")
    content_hash = fields.Char()

    _sql_constraints = [
        ("record_unique", "UNIQUE(backend_id, res_model, res_id)",
         "A record is bound once per backend."),
        ("external_unique", "UNIQUE(backend_id, res_model, external_id)",
         "An external ID is bound once per backend and model."),
    ]

    @api.depends("res_model", "res_id", "external_id", "backend_id")
    def _compute_display_name(self):
        for binding in self:
            binding.display_name = (
                f"{binding.backend_id.name}: {binding.external_id or binding.res_model}")

    @api.model
    def _find(self, backend, record):
        return self.sudo().search([
            ("backend_id", "=", backend.id), ("res_model", "=", record._name),
            ("res_id", "=", record.id)], limit=1)

    @api.model
    def _find_record(self, backend, model, external_id):
        """The Odoo record bound to ``external_id``, or an empty recordset."""
        binding = self.sudo().search([
            ("backend_id", "=", backend.id), ("res_model", "=", model),
            ("external_id", "=", external_id)], limit=1)
        return self.env[model].browse(binding.res_id) if binding else self.env[model]

    @api.model
    def _touch(self, backend, record, state, exchange=None, **values):
        """Get or create the binding of ``record`` and move it to ``state``.

        An external ID already bound to another record is a business error
        (the partner answered with an object Odoo knows under another
        record), never a silent rebinding.
        """
        if values.get("external_id"):
            other = self.sudo().search([
                ("backend_id", "=", backend.id), ("res_model", "=", record._name),
                ("external_id", "=", values["external_id"]), ("res_id", "!=", record.id)],
                limit=1)
            if other:
                raise errors.BusinessRuleError(self.env._(
                    "%(backend)s answered with %(ref)s for %(record)s, but %(ref)s is already "
                    "bound to %(other)s.", backend=backend.name, ref=values["external_id"],
                    record=record.display_name,
                    other=self.env[record._name].browse(other.res_id).display_name))
        binding = self._find(backend, record)
        if binding:
            binding._set_state(state, exchange, **values)
            return binding
        values.update(backend_id=backend.id, company_id=backend.company_id.id,
                      res_model=record._name, res_id=record.id, sync_state=state)
        if exchange:
            values["last_exchange_id"] = exchange.id
        if state == "synced":
            values["last_sync_at"] = fields.Datetime.now()
        return self.sudo().create(values)

    def _set_state(self, state, exchange=None, **values):
        values["sync_state"] = state
        if exchange:
            values["last_exchange_id"] = exchange.id
        if state == "synced":
            values["last_sync_at"] = fields.Datetime.now()
        self.sudo().write(values)

    def _accept_sequence(self, sequence):
        """True (and recorded) when ``sequence`` is newer than the last applied."""
        self.ensure_one()
        if sequence is None:
            return True
        if sequence <= self.external_sequence:
            return False
        self.sudo().external_sequence = sequence
        return True

    @api.model_create_multi
    def create(self, vals_list):
        self.env["retail.backend"]._fill_company(vals_list)
        bindings = super().create(vals_list)
        bindings._refresh_records()
        return bindings

    def write(self, vals):
        result = super().write(vals)
        if {"sync_state", "external_id"} & set(vals):
            self._refresh_records()
        return result

    def _refresh_records(self):
        by_model = {}
        for binding in self:
            by_model.setdefault(binding.res_model, set()).add(binding.res_id)
        for model, ids in by_model.items():
            if model in self.env and "retail_sync_state" in self.env[model]._fields:
                self.env[model].sudo().browse(ids).exists()._retail_refresh_sync_summary()

    def action_open_record(self):
        self.ensure_one()
        return {"type": "ir.actions.act_window", "res_model": self.res_model,
                "res_id": self.res_id, "view_mode": "form"}
