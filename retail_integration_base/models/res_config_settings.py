# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import os

from odoo import fields, models, tools

from ..services import crypto


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    retail_key_status = fields.Char(
        string="Encryption key", compute="_compute_retail_key_status")
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

    def _compute_retail_key_status(self):
        key = tools.config.get(crypto.CONFIG_KEY) or os.environ.get(crypto.ENV_VAR)
        source = ("server configuration" if tools.config.get(crypto.CONFIG_KEY)
                  else "environment")
        try:
            box = crypto.SecretBox(key)
            status = f"Configured ({box.key_count} key(s), from the {source})"
        except crypto.EncryptionKeyError as exc:
            status = f"Not usable: {exc}"
        for settings in self:
            settings.retail_key_status = status
