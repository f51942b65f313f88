# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, models

QUANTITY_FIELDS = frozenset({"quantity", "reserved_quantity", "location_id", "product_id"})


class StockQuant(models.Model):
    _inherit = "stock.quant"

    @api.model_create_multi
    def create(self, vals_list):
        quants = super().create(vals_list)
        quants._retail_oms_mark_dirty()
        return quants

    def write(self, vals):
        if QUANTITY_FIELDS & set(vals):
            self._retail_oms_mark_dirty()  # the old location, when it moves
            result = super().write(vals)
            self._retail_oms_mark_dirty()
            return result
        return super().write(vals)

    def _retail_oms_mark_dirty(self):
        """Note which (product, location) availabilities changed.

        Cheap on purpose: stock moves write quants all the time. The pairs
        are gathered in memory for the transaction and written once, just
        before commit, with the flush job of each backend (see
        ``retail.backend._oms_inventory_mark``): a burst of moves becomes
        one update per SKU and location.
        """
        if not self:
            return
        targets = self.env["retail.backend"]._oms_inventory_targets()
        if not targets:
            return
        pending = self.env.cr.precommit.data.setdefault("retail_oms_inventory", set())
        was_empty = not pending
        for quant in self:
            path = quant.location_id.parent_path or ""
            for backend_id, location_ref, prefix in targets:
                if path.startswith(prefix):
                    pending.add((backend_id, quant.product_id.id, location_ref))
        if was_empty and pending:
            self.env.cr.precommit.add(self.env["retail.backend"]._oms_inventory_precommit)
