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

    def _import(self):
        self.import_flow().action_run_now()
        self.run_jobs()

    def test_corrected_reissue_supersedes_the_unposted_batch(self):
        self.create_payout("PO-API-2")
        self._import()
        first = self.batches(payout_ref="PO-API-2")
        lines = self.payout_lines()
        lines[1]["fee"] = 150  # the provider corrects a fee
        self.sim("POST", "/_sim/payouts/PO-API-2/reissue", {"lines": lines})
        self._import()
        first_again, second = self.batches(payout_ref="PO-API-2")
        self.assertEqual(first_again, first)
        self.assertEqual(first.state, "superseded")
        self.assertEqual(first.superseded_by_id, second)
        self.assertEqual(second.revision, 2)
        self.assertEqual(second.fee_minor, 2400)
        self.assertEqual(second.state, "matched",
                         second.line_ids.mapped("exception_reason") + [second.problem])

    def test_reissue_of_a_posted_payout_is_an_exception_until_reversed(self):
        self.create_payout("PO-API-3")
        self._import()
        first = self.batches(payout_ref="PO-API-3")
        first.with_user(self.finance).action_post()
        lines = self.payout_lines()[:2]
        self.sim("POST", "/_sim/payouts/PO-API-3/reissue", {"lines": lines})
        self._import()
        second = self.batches(payout_ref="PO-API-3", revision=2)
        self.assertEqual(first.state, "posted")
        self.assertEqual(second.state, "exception")
        self.assertIn("already posted", second.problem)
        exception = self.exchanges(self.backend, idempotency_key=f"settlement-batch:{second.id}")
        self.assertEqual(exception.state, "failed")
        self.assertEqual(exception.failure_class, "business")
        first.with_user(self.finance).action_reverse()
        self.assertEqual(first.state, "reversed")
        self.assertEqual(second.state, "matched", "reversing the old revision re-checks the new one")
        self.assertEqual(exception.state, "done")

    def test_provider_errors_are_retried_then_queued(self):
        self.create_payout("PO-API-4")
        self.sim_faults(error_rate=1.0, error_status=503)
        self.import_flow().next_run_at = "2026-01-01"
        self.env["retail.flow"]._cron_run_due_batches()
        failed = self.exchanges(self.backend, state="failed")
        self.assertEqual(len(failed), 1)
        self.assertEqual(failed.failure_class, "transient")
        self.sim_faults(error_rate=0.0)
        self._import()
        self.assertEqual(self.batches(payout_ref="PO-API-4").state, "matched")
