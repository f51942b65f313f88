# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.tests import HttpCase, tagged

from .common import RetailTestMixin


@tagged("post_install", "-at_install")
class TestExceptionQueueTour(RetailTestMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_retail()
        cls.backend = cls.create_backend(name="Tour backend")
        cls.exchange = cls.env["retail.exchange"]._record_outbound(
            cls.backend, cls.backend._get_flow("generic_request"), "tour-key-1",
            payload={"path": "/v1/orders", "body": {}}, external_ref="tour-failed-order")
        cls.exchange.write({
            "state": "failed", "failure_class": "validation", "http_status": 422,
            "error": "validation_error: the customer e-mail is missing [customer.email]"})

    def test_exception_queue_tour(self):
        self.start_tour("/odoo", "retail_exception_queue_tour", login=self.retail_user.login)
        self.assertEqual(self.exchange.state, "pending")
        self.assertTrue(self.env["queue.job"].search([("model_name", "=", "retail.exchange")]))
