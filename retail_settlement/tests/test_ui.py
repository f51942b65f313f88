# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import base64

from odoo.tests import HttpCase, tagged

from .common import SettlementTestMixin


@tagged("post_install", "-at_install")
class TestSettlementTour(SettlementTestMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_settlement()

    def test_clerk_uploads_a_file_sees_the_matches_and_posts(self):
        self.sim_reset()
        self.create_payout("PO-TOUR")
        file = self.sim_file("PO-TOUR", "adyen")
        self.env["ir.attachment"].create({
            "name": "retail_settlement_tour.csv", "public": True,
            "datas": base64.b64encode(file["content"].encode())})
        self.start_tour("/odoo/action-retail_settlement.retail_settlement_batch_action",
                        "retail_settlement_upload_tour", login=self.finance.login)
        batch = self.batches(payout_ref="PO-TOUR")
        self.assertEqual(batch.layout, "adyen")
        self.assertEqual(batch.state, "posted")
        self.assertEqual(batch.move_id.state, "posted")
        self.assertEqual(batch.create_uid, self.backend.integration_user_id)
