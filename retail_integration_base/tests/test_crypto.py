# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import base64
import subprocess
from unittest.mock import patch

from cryptography.fernet import Fernet

from odoo import SUPERUSER_ID, api
from odoo.exceptions import UserError, ValidationError
from odoo.tests import TransactionCase, tagged
from odoo.tools import config

from ..services import crypto
from .common import API_KEY, WEBHOOK_SECRET, RetailTestMixin


@tagged("post_install", "-at_install")
class TestSecretsAtRest(RetailTestMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_retail()
        cls.backend = cls.create_backend()

    def _database_text(self):
        """Everything PostgreSQL holds that could carry the secret, as text."""
        self.env.flush_all()
        chunks = []
        for table in ("retail_backend", "mail_message", "mail_tracking_value",
                      "retail_exchange", "queue_job", "ir_config_parameter"):
            self.env.cr.execute(f"SELECT coalesce(string_agg(t::text, ' '), '') FROM {table} t")  # noqa: E501  pylint: disable=sql-injection
            chunks.append(self.env.cr.fetchone()[0])
        return "\n".join(chunks)

    def test_secrets_are_not_stored_in_clear(self):
        text = self._database_text()
        self.assertNotIn(API_KEY, text)
        self.assertNotIn(WEBHOOK_SECRET, text)
        self.assertNotIn(WEBHOOK_SECRET.removeprefix("whsec_"), text)
        self.assertTrue(self.backend.api_key_encrypted.startswith(crypto.TOKEN_PREFIX))

    def test_secrets_read_back_only_as_set(self):
        backend = self.backend.with_user(self.manager)
        self.assertEqual(backend.api_key_state, "set")
        self.assertEqual(backend.webhook_secret_state, "set")
        self.assertFalse(backend.api_key)
        self.assertFalse(backend.webhook_secret)
        exported = self.backend.export_data(["name", "api_key", "webhook_secret"])["datas"]
        self.assertNotIn(API_KEY, str(exported))

    def test_decrypts_with_the_configured_key(self):
        self.assertEqual(self.backend._decrypt("api_key_encrypted"), API_KEY)
        self.assertEqual(self.backend._webhook_secrets(), [WEBHOOK_SECRET])

    def test_key_rotation_keeps_old_tokens_readable(self):
        new_key = Fernet.generate_key().decode()
        with patch.dict(config.options, {crypto.CONFIG_KEY: f"{new_key},{config.get(crypto.CONFIG_KEY)}"}):  # noqa: E501
            self.assertEqual(self.backend._decrypt("api_key_encrypted"), API_KEY)

    def test_missing_key_is_a_clear_error(self):
        with patch.dict(config.options, {crypto.CONFIG_KEY: ""}), \
                patch.dict("os.environ", {crypto.ENV_VAR: ""}):
            with self.assertRaisesRegex(UserError, "No encryption key"):
                self.backend._decrypt("api_key_encrypted")
            with self.assertRaisesRegex(UserError, "No encryption key"):
                self.backend.with_user(self.manager).write({"api_key": "other"})

    def test_wrong_key_is_a_clear_error_not_a_plaintext_fallback(self):
        with patch.dict(config.options, {crypto.CONFIG_KEY: Fernet.generate_key().decode()}):
            with self.assertRaisesRegex(UserError, "cannot be decrypted"):
                self.backend._decrypt("api_key_encrypted")
        with patch.dict(config.options, {crypto.CONFIG_KEY: "not-a-key"}):
            with self.assertRaisesRegex(UserError, "not a valid Fernet key"):
                self.backend._decrypt("api_key_encrypted")

    def test_webhook_secret_rotation_keeps_previous_for_grace_period(self):
        other = "whsec_" + "b3RoZXItc2VjcmV0LWZvci1yb3RhdGlvbi10ZXN0cw=="
        self.backend.with_user(self.manager).write({"webhook_secret": other})
        self.assertEqual(self.backend.webhook_secret_state, "rotating")
        self.assertEqual(self.backend._webhook_secrets(), [other, WEBHOOK_SECRET])
        self.backend.with_user(self.manager).action_drop_previous_secret()
        self.assertEqual(self.backend._webhook_secrets(), [other])

    def test_malformed_webhook_secret_is_refused(self):
        with self.assertRaisesRegex(ValidationError, "whsec_"):
            self.backend.with_user(self.manager).write({"webhook_secret": "whsec_***"})


@tagged("post_install", "-at_install")
class TestSecretsNotInDump(TransactionCase):
    """The literal check: a committed secret does not appear in ``pg_dump``."""

    def test_committed_secrets_are_absent_from_pg_dump(self):
        secret = "sk_live_dump_probe_" + "7" * 16
        webhook = "whsec_" + base64.b64encode(b"dump-probe-webhook-secret-32byte").decode()
        registry = self.env.registry
        # A separate, committed transaction: pg_dump only sees committed data.
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            backend = env["retail.backend"].create(
                {"name": "Dump probe", "base_url": "http://127.0.0.1:9"})
            backend.write({"api_key": secret, "webhook_secret": webhook})
            backend_id = backend.id
        try:
            dump = subprocess.run(
                ["pg_dump", "--data-only", self.env.cr.dbname], capture_output=True,
                check=True, timeout=300).stdout
            self.assertIn(b"Dump probe", dump, "the probe backend is in the dump")
            self.assertNotIn(secret.encode(), dump)
            self.assertNotIn(webhook.encode(), dump)
            self.assertNotIn(webhook.removeprefix("whsec_").encode(), dump)
        finally:
            with registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                probe = env["retail.backend"].browse(backend_id)
                env["retail.flow"].search([("backend_id", "=", backend_id)]).unlink()
                env["mail.message"].search([("model", "=", "retail.backend"),
                                            ("res_id", "=", backend_id)]).unlink()
                probe.unlink()
