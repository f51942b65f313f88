# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.tests import TransactionCase, tagged

from .common import SettlementTestMixin


@tagged("post_install", "-at_install")
class TestSettlementFileImport(SettlementTestMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_settlement()

    def setUp(self):
        super().setUp()
        self.sim_reset()

    def _check_day(self, batch, fee_parts):
        self.assertEqual(batch.line_count, 7)
        self.assertEqual((batch.gross_minor, batch.fee_minor, batch.net_minor,
                          batch.payout_minor), (10000, 2390, 7610, 7610))
        self.assertEqual(batch.state, "matched", batch.line_ids.mapped("exception_reason"))
        types = batch.line_ids.mapped("line_type")
        self.assertEqual(types, ["sale", "sale", "refund", "chargeback", "chargeback_reversal",
                                 "fee", "payout"])
        self.assertEqual(batch.line_ids[0].fee_parts, fee_parts)
        self.assertEqual(batch.line_ids[0].sale_order_id, self.order1)
        self.assertEqual(batch.line_ids[2].refund_move_id, self.credit_note)
        # 10:15 in +01:00 is 09:15 UTC, whatever the layout says it with.
        self.assertEqual(str(batch.line_ids[0].booked_at), "2026-03-01 09:15:00")

    def test_canonical_file(self):
        self.create_payout("PO-C")
        file = self.sim_file("PO-C", "canonical")
        self.upload(file["content"], file["filename"])
        batch = self.batches(payout_ref="PO-C")
        self.assertEqual(batch.layout, "canonical")
        self._check_day(batch, {"processing": 250})

    def test_adyen_settlement_details_report(self):
        self.create_payout("PO-A")
        file = self.sim_file("PO-A", "adyen")
        self.assertIn("Gross Credit (GC)", file["content"])
        self.upload(file["content"], file["filename"])
        batch = self.batches(payout_ref="PO-A")
        self.assertEqual(batch.layout, "adyen")
        self._check_day(batch, {"commission": 50, "scheme_fees": 50, "interchange": 150})
        chargeback = batch.line_ids.filtered(lambda x: x.line_type == "chargeback")
        self.assertEqual((chargeback.gross_minor, chargeback.fee_minor), (-3000, 1500))

    def test_stripe_itemized_payout_reconciliation(self):
        self.create_payout("po_1Stripe")
        file = self.sim_file("po_1Stripe", "stripe")
        self.upload(file["content"], file["filename"], layout="stripe")
        batch = self.batches(payout_ref="po_1Stripe")
        self.assertEqual(batch.layout, "stripe")
        self._check_day(batch, {"processing": 250})

    def test_the_same_file_twice_changes_nothing(self):
        self.create_payout("PO-SAME")
        file = self.sim_file("PO-SAME", "canonical")
        self.upload(file["content"], file["filename"])
        batch = self.batches(payout_ref="PO-SAME")
        exchanges = self.exchanges(self.backend)
        result = self.upload(file["content"], file["filename"])
        self.assertIn("already imported", result["params"]["message"])
        self.assertEqual(self.batches(payout_ref="PO-SAME"), batch)
        self.assertEqual(self.exchanges(self.backend), exchanges)
        # The same payout in another layout says the same: nothing changes either.
        adyen = self.sim_file("PO-SAME", "adyen")
        result = self.upload(adyen["content"], adyen["filename"])
        self.assertEqual(self.batches(payout_ref="PO-SAME"), batch)
        self.assertEqual(batch.revision, 1)

    def test_corrected_reissue_by_file(self):
        self.create_payout("PO-FIX")
        first = self.sim_file("PO-FIX", "canonical")
        self.upload(first["content"], first["filename"])
        lines = self.payout_lines()
        lines[0]["fee"] = 200
        self.sim("POST", "/_sim/payouts/PO-FIX/reissue", {"lines": lines})
        second = self.sim_file("PO-FIX", "canonical")
        self.upload(second["content"], second["filename"])
        old, new = self.batches(payout_ref="PO-FIX")
        self.assertEqual((old.state, new.state, new.revision), ("superseded", "matched", 2))
        self.assertEqual(new.previous_batch_id, old)

    def _malformed(self):
        self.create_payout("PO-BAD")
        content = self.sim_file("PO-BAD", "adyen")["content"].splitlines()
        content[2] = content[2].replace(",50.00,", ",50.0O,", 1)      # a letter O in an amount
        content[4] = content[4].replace(",30.00,,", ",30.00,30.00,", 1)  # debit and credit
        content[5] = content[5].replace(",CET,", ",Mars/Olympus,", 1)  # unknown time zone
        return "\n".join(content) + "\n"

    def test_malformed_rows_refuse_the_file_with_their_row_numbers(self):
        self.upload(self._malformed(), "bad.csv")
        self.assertFalse(self.batches(payout_ref="PO-BAD"))
        exchange = self.exchanges(self.backend, event_type="file")
        self.assertEqual(exchange.state, "failed")
        self.assertEqual(exchange.failure_class, "validation")
        self.assertIn("3 malformed row(s)", exchange.error)
        for row in ("row 3:", "row 5:", "row 6:"):
            self.assertIn(row, exchange.error)
        self.assertIn("'50.0O' is not a plain decimal amount", exchange.error)
        self.assertIn("both Gross Debit (GC) and Gross Credit (GC)", exchange.error)
        self.assertIn("unknown time zone", exchange.error)

    def test_malformed_rows_land_as_exceptions_when_the_policy_says_so(self):
        self.backend.settlement_malformed_policy = "exception"
        self.upload(self._malformed(), "bad.csv")
        batch = self.batches(payout_ref="PO-BAD")
        malformed = batch.line_ids.filtered(lambda x: x.line_type == "malformed")
        self.assertEqual(malformed.mapped("sequence"), [3, 5, 6])
        self.assertEqual(set(malformed.mapped("state")), {"exception"})
        self.assertTrue(all(m.exchange_id.state == "failed" for m in malformed))
        self.assertEqual(malformed[0].exchange_id.failure_class, "validation")
        self.assertEqual(batch.state, "exception")
        self.assertIn("differs from the payout", batch.problem)

    def test_unknown_layout_is_refused(self):
        self.upload("a,b\n1,2\n", "what.csv")
        exchange = self.exchanges(self.backend, event_type="file")
        self.assertEqual(exchange.state, "failed")
        self.assertIn("unknown file layout", exchange.error)
