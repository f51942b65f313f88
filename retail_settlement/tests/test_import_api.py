# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.tests import TransactionCase, tagged

from .common import SettlementTestMixin


@tagged("post_install", "-at_install")
class TestSettlementApiImport(SettlementTestMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_settlement()

    def setUp(self):
        super().setUp()
        self.sim_reset()

    def test_cron_imports_a_paged_payout_end_to_end(self):
        self.create_payout("PO-API-1")
        flow = self.import_flow()
        flow.next_run_at = "2026-01-01 00:00:00"
        self.env["retail.flow"]._cron_run_due_batches()
        self.run_jobs()
        batch = self.batches(payout_ref="PO-API-1")
        self.assertEqual(len(batch), 1)
        self.assertEqual(batch.line_count, 7)
        requests = [r["path"] for r in self.sim_state()["requests"]
                    if "/lines" in r["path"]]
        self.assertEqual(len(requests), 3, "7 lines in pages of 3")
        self.assertEqual((batch.gross_minor, batch.fee_minor, batch.net_minor), (10000, 2390, 7610))
        self.assertEqual(batch.payout_minor, 7610)
        self.assertEqual(batch.state, "matched", batch.line_ids.mapped("exception_reason"))
        self.assertEqual(batch.matched_count, 5)
        self.assertTrue(flow.next_run_at > flow.last_run_at)
        # The next run finds nothing new: the same payout again changes nothing.
        flow.action_run_now()
        self.run_jobs()
        self.assertEqual(len(self.batches(payout_ref="PO-API-1")), 1)
