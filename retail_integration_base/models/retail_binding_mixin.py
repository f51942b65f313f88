# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models

from .retail_binding import STATE_PRIORITY, SYNC_STATES


class RetailBindingMixin(models.AbstractModel):
    """Puts external references and sync states on a business document.

    Inherit it on any model a connector synchronises; the views get a smart
    button, a sync state column, filters and a group-by from
    ``views/retail_binding_mixin_views.xml``-style inherited views.
    The summary fields are stored (searchable, groupable) and written by
    ``retail.binding`` whenever a binding changes.
    """

    _name = "retail.binding.mixin"
    _description = "Retail Integration Binding Mixin"

    retail_binding_ids = fields.One2many(
        "retail.binding", "res_id", string="Integration bindings",
        domain=lambda self: [("res_model", "=", self._name)], copy=False)
    retail_sync_state = fields.Selection(
        SYNC_STATES, string="Sync state", default="not_synced", copy=False, index=True,
        readonly=True)
    retail_external_ref = fields.Char(
        string="External reference", copy=False, index=True, readonly=True)
    retail_exchange_count = fields.Integer(compute="_compute_retail_exchange_count")

    def _compute_retail_exchange_count(self):
        counts = dict(self.env["retail.exchange"].sudo()._read_group(
            [("res_model", "=", self._name), ("res_id", "in", self.ids)],
            ["res_id"], ["__count"]))
        for record in self:
            record.retail_exchange_count = counts.get(record.id, 0)

    def _retail_refresh_sync_summary(self):
        bindings = self.env["retail.binding"].sudo().search(
            [("res_model", "=", self._name), ("res_id", "in", self.ids)])
        grouped = {}
        for binding in bindings:
            grouped.setdefault(binding.res_id, []).append(binding)
        for record in self:
            items = grouped.get(record.id, [])
            state = max((b.sync_state for b in items), key=STATE_PRIORITY.get,
                        default="not_synced")
            refs = ", ".join(b.external_id for b in items if b.external_id)
            if record.retail_sync_state != state or (record.retail_external_ref or "") != refs:
                # Integration state is not a business change worth a chatter line.
                record.with_context(tracking_disable=True).write(
                    {"retail_sync_state": state, "retail_external_ref": refs or False})

    def action_view_retail_exchanges(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "retail_integration_base.retail_exchange_action")
        action["domain"] = [("res_model", "=", self._name), ("res_id", "=", self.id)]
        action["context"] = {}
        action["name"] = self.env._("Integration messages")
        return action
