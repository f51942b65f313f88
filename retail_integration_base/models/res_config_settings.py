# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import os

from odoo import api, fields, models, tools

from ..services import crypto


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    # A default, not a compute: the settings form is a new record, and Odoo
    # does not compute dependency-less fields for new records.
    retail_key_status = fields.Char(
        string="Encryption key", readonly=True,
        default=lambda self: self._retail_key_status())
    retail_retry_max_attempts = fields.Integer(
        string="Default attempts", default=5,
        config_parameter="retail_integration.retry_max_attempts")
    retail_retry_backoff_base = fields.Float(
        string="Default backoff base (s)", default=10.0,
        config_parameter="retail_integration.retry_backoff_base")
    retail_retry_backoff_max = fields.Float(
        string="Default backoff cap (s)", default=3600.0,
        config_parameter="retail_integration.retry_backoff_max")
    retail_payload_retention_days = fields.Integer(
        string="Keep payloads (days)", default=30,
        config_parameter="retail_integration.payload_retention_days",
        help="Payloads of done and ignored exchanges are erased after this many days "
             "(0 keeps them).")
    retail_exception_retention_days = fields.Integer(
        string="Keep exception payloads (days)", default=90,
        config_parameter="retail_integration.exception_retention_days")

    @api.model
    def _retail_key_status(self):
        key = tools.config.get(crypto.CONFIG_KEY) or os.environ.get(crypto.ENV_VAR)
        source = ("server configuration" if tools.config.get(crypto.CONFIG_KEY)
                  else "environment")
        try:
            box = crypto.SecretBox(key)
        except crypto.EncryptionKeyError as exc:
            return f"Not usable: {exc}"
        return f"Configured ({box.key_count} key(s), from the {source})"
