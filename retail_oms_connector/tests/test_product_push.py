# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import json

from odoo.tests import TransactionCase, tagged

from ..services.payloads import minor_units
from .common import OmsTestMixin


@tagged("post_install", "-at_install")
class TestProductPush(OmsTestMixin, TransactionCase):
    """Batch flow: saleable products go to the OMS, only what changed."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_oms()
        cls.flow = cls.backend._get_flow("oms_product_push")
        # Only this test's products: earlier data must not count.
        cls.env["product.product"].search([
            ("id", "not in", (cls.tshirt | cls.sneaker).ids)]).write({"sale_ok": False})

    def setUp(self):
        super().setUp()
        self.sim_reset()

    def push(self, **kwargs):
        exchanges = self.flow._run_batch() if not kwargs else \
            self.flow._retail_batch_oms_product_push(**kwargs)
        self.run_jobs()
        return exchanges

    def pushed(self):
        return self.sim_state()["products"]

    def test_first_push_sends_the_catalogue_then_nothing_until_a_change(self):
        exchanges = self.push()
        self.assertEqual(len(exchanges), 1)
        self.assertEqual(exchanges.state, "done")
        products = self.pushed()
        self.assertEqual(sorted(products), ["SNEAKER-42", "TSHIRT-M"])
        self.assertEqual(products["TSHIRT-M"]["price"], 1999)
        self.assertEqual(products["TSHIRT-M"]["currency"], self.env.company.currency_id.name)
        self.assertFalse(self.push(), "an unchanged catalogue sends nothing")
        self.tshirt.product_tmpl_id.list_price = 21.50
        exchanges = self.push()
        self.assertEqual([r["sku"] for r in self.payload_rows(exchanges)], ["TSHIRT-M"])
        self.assertEqual(self.pushed()["TSHIRT-M"]["price"], 2150)

    def test_calls_carry_at_most_the_chunk_size(self):
        self.env["product.product"].create({
            "name": "Cap", "default_code": "CAP-1", "type": "consu", "list_price": 9.9})
        exchanges = self.push(chunk=2)
        self.assertEqual([len(self.payload_rows(e)) for e in exchanges], [2, 1])
        self.assertEqual(self.sim_state()["product_totals"]["calls"], 2)

    def test_archived_product_is_sent_once_as_inactive(self):
        self.push()
        self.sneaker.active = False
        exchanges = self.push()
        self.assertEqual(self.payload_rows(exchanges),
                         [{"sku": "SNEAKER-42", "name": "Sneaker", "barcode": None,
                           "price": minor_units(89.0, 2),
                           "currency": self.env.company.currency_id.name, "active": False}])
        self.assertFalse(self.push())

    def test_failed_push_is_resent_by_the_next_run(self):
        self.sim_faults(error_rate=1.0, seed=3)
        self.backend.retry_max_attempts = 1
        failed = self.push()
        self.assertEqual(failed.state, "failed")
        self.sim_faults(error_rate=0.0)
        self.flow.last_run_at = False
        exchanges = self.push()
        self.assertEqual(exchanges.state, "done")
        self.assertEqual(sorted(self.pushed()), ["SNEAKER-42", "TSHIRT-M"])

    def payload_rows(self, exchanges):
        return [row for e in exchanges for row in json.loads(e.payload)["products"]]
