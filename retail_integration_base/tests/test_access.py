# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.exceptions import AccessError
from odoo.tests import TransactionCase, new_test_user, tagged

from .common import RetailTestMixin


@tagged("post_install", "-at_install")
class TestAccessRights(RetailTestMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_retail()
        cls.backend = cls.create_backend()
        cls.exchange = cls.env["retail.exchange"]._record_outbound(
            cls.backend, cls.backend._get_flow("generic_request"), "access-test-1",
            payload={"path": "/v1/health", "method": "GET"})
        cls.exchange.write({"state": "failed", "failure_class": "transient", "error": "boom"})

    def test_user_sees_exchanges_and_may_retry_and_ignore(self):
        exchange = self.exchange.with_user(self.retail_user)
        self.assertEqual(exchange.state, "failed")
        exchange.action_ignore()
        self.assertEqual(exchange.state, "ignored")
        self.assertIn("Ignored by Retail User", exchange.message_ids[0].body)
        exchange.action_replay()
        self.assertEqual(exchange.state, "pending")

    def test_user_cannot_configure_backends_nor_delete_exchanges(self):
        backend = self.backend.with_user(self.retail_user)
        self.assertEqual(backend.name, "Test backend")
        with self.assertRaises(AccessError):
            backend.write({"base_url": "http://127.0.0.1:1"})
        with self.assertRaises(AccessError):
            self.env["retail.backend"].with_user(self.retail_user).create(
                {"name": "x", "base_url": "http://127.0.0.1:1"})
        with self.assertRaises(AccessError):
            self.env["retail.mapping"].with_user(self.retail_user).create({
                "backend_id": self.backend.id, "mapping_type": "other",
                "odoo_value": "a", "external_value": "b"})
        with self.assertRaises(AccessError):
            self.exchange.with_user(self.retail_user).unlink()

    def test_encrypted_columns_are_not_readable_by_managers(self):
        backend = self.backend.with_user(self.manager)
        backend.write({"retry_max_attempts": 3})
        with self.assertRaises(AccessError):
            backend.read(["api_key_encrypted"])
        self.assertEqual(backend.read(["api_key_state"])[0]["api_key_state"], "set")

    def test_plain_employee_sees_no_integration_data(self):
        employee = new_test_user(self.env, login="retail_employee", groups="base.group_user")
        with self.assertRaises(AccessError):
            self.exchange.with_user(employee).read(["state"])
        with self.assertRaises(AccessError):
            self.backend.with_user(employee).read(["name"])

    def test_company_rule_hides_other_companies(self):
        other_company = self.env["res.company"].create({"name": "Other Retail Co"})
        other = self.env["retail.backend"].create({
            "name": "Other company backend", "base_url": "http://127.0.0.1:9",
            "company_id": other_company.id})
        visible = self.env["retail.backend"].with_user(self.retail_user).search(
            [("id", "in", (self.backend | other).ids)])
        self.assertEqual(visible, self.backend)
        self.assertFalse(self.env["retail.exchange"].with_user(self.retail_user).search(
            [("backend_id", "=", other.id)]))

    def test_integration_bot_is_a_technical_user_without_password(self):
        bot = self.env.ref("retail_integration_base.user_retail_integration")
        self.assertTrue(bot.has_group("retail_integration_base.group_retail_integration_user"))
        self.assertFalse(bot.has_group("retail_integration_base.group_retail_integration_manager"))
        self.assertFalse(bot.has_group("base.group_system"))
        self.env.cr.execute("SELECT password FROM res_users WHERE id = %s", [bot.id])
        self.assertFalse(self.env.cr.fetchone()[0])

    def test_the_message_log_cannot_be_edited_by_users(self):
        for user in (self.retail_user, self.manager):
            with self.assertRaisesRegex(AccessError, "audit log"):
                self.exchange.with_user(user).write({"payload": '{"forged": true}'})
        self.assertIn("/v1/health", self.exchange.payload)
