# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..services.errors import MappingError

# Models an Odoo-side mapping may point at; connectors add theirs with
# ``_retail_mapping_models``.
MAPPING_MODELS = [
    "stock.warehouse", "stock.location", "account.tax", "crm.team",
    "account.payment.method", "product.pricelist", "res.partner",
]


class RetailMapping(models.Model):
    """Value translation between Odoo and one backend.

    One row maps an Odoo value (a record or a plain code) to the partner's
    value, for one ``mapping_type``. Connectors add types with
    ``selection_add``. Lookups that find nothing raise a ``MappingError``
    (failure class ``mapping``) that names the type and the value, so the
    exchange lands in the exception queue with what to add.
    """

    _name = "retail.mapping"
    _description = "Retail Integration Value Mapping"
    _order = "backend_id, mapping_type, external_value"

    backend_id = fields.Many2one("retail.backend", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    mapping_type = fields.Selection(
        [("order_status", "Order status"), ("carrier", "Carrier"),
         ("payment_method", "Payment method"), ("tax", "Tax"),
         ("location", "Warehouse / location"), ("channel", "Sales channel"),
         ("tender", "Tender"), ("other", "Other")],
        string="Type", required=True, index=True)
    odoo_record = fields.Reference(selection="_selection_odoo_record", string="Odoo record")
    odoo_value = fields.Char(string="Odoo value", help="A plain Odoo code, when no record fits.")
    external_value = fields.Char(required=True)
    active = fields.Boolean(default=True)
    note = fields.Char()

    _sql_constraints = [
        ("external_unique", "UNIQUE(backend_id, mapping_type, external_value)",
         "This external value is already mapped for this backend and type."),
    ]

    @api.model_create_multi
    def create(self, vals_list):
        self.env.registry.clear_cache()  # connectors cache what mappings say
        return super().create(vals_list)

    def write(self, vals):
        self.env.registry.clear_cache()
        return super().write(vals)

    def unlink(self):
        self.env.registry.clear_cache()
        return super().unlink()

    @api.model
    def _selection_odoo_record(self):
        models_ = [m for m in self._retail_mapping_models() if m in self.env]
        return [(m, self.env[m]._description) for m in models_]

    @api.model
    def _retail_mapping_models(self):
        return list(MAPPING_MODELS)

    @api.constrains("odoo_record", "odoo_value")
    def _check_odoo_side(self):
        for mapping in self:
            if not mapping.odoo_record and not mapping.odoo_value:
                raise ValidationError(self.env._("A mapping needs an Odoo record or an Odoo value."))

    def _odoo_key(self):
        self.ensure_one()
        if self.odoo_record:
            return f"{self.odoo_record._name},{self.odoo_record.id}"
        return self.odoo_value

    @api.model
    def _lookup(self, backend, mapping_type):
        return self.sudo().search([("backend_id", "=", backend.id),
                                   ("mapping_type", "=", mapping_type)])

    @api.model
    def _to_external(self, backend, mapping_type, value, default=None):
        """Partner value for an Odoo record or code; MappingError when none."""
        key = f"{value._name},{value.id}" if isinstance(value, models.BaseModel) else value
        for mapping in self._lookup(backend, mapping_type):
            if mapping._odoo_key() == key:
                return mapping.external_value
        if default is not None:
            return default
        label = dict(self._fields["mapping_type"]._description_selection(self.env))[mapping_type]
        shown = value.display_name if isinstance(value, models.BaseModel) else value
        raise MappingError(
            self.env._("No %(type)s mapping for %(value)s on backend %(backend)s: add one in "
              "Retail Integration > Configuration > Mappings.",
              type=label, value=shown, backend=backend.name),
            details=[{"mapping_type": mapping_type, "odoo_value": key}])

    @api.model
    def _to_odoo(self, backend, mapping_type, external_value, default=None):
        """Odoo record (or code) for a partner value; MappingError when none."""
        mapping = self.sudo().search([
            ("backend_id", "=", backend.id), ("mapping_type", "=", mapping_type),
            ("external_value", "=", external_value)], limit=1)
        if mapping:
            return mapping.odoo_record or mapping.odoo_value
        if default is not None:
            return default
        label = dict(self._fields["mapping_type"]._description_selection(self.env))[mapping_type]
        raise MappingError(
            self.env._("No %(type)s mapping for the partner value %(value)s on backend %(backend)s: "
              "add one in Retail Integration > Configuration > Mappings.",
              type=label, value=external_value, backend=backend.name),
            details=[{"mapping_type": mapping_type, "external_value": external_value}])
