# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The plain services, without the ORM."""

from datetime import datetime
import unittest

from ..services import amounts, matching, parsers

HEADER = ",".join(parsers.CANONICAL_COLUMNS)


class TestAmounts(unittest.TestCase):
    def test_decimal_to_minor_units_per_currency(self):
        self.assertEqual(amounts.to_minor("12.30", "EUR"), 1230)
        self.assertEqual(amounts.to_minor("-0.05", "EUR"), -5)
        self.assertEqual(amounts.to_minor("1500", "JPY"), 1500)
        self.assertEqual(amounts.to_minor("1.234", "KWD"), 1234)

    def test_ambiguous_amounts_are_refused(self):
        for value, currency in (("12.345", "EUR"), ("1,000.00", "EUR"), ("1e3", "EUR"),
                                ("12.5", "JPY"), ("", "EUR"), ("--1", "EUR"), ("0x10", "EUR")):
            with self.subTest(value=value), self.assertRaises(amounts.AmountError):
                amounts.to_minor(value, currency)

    def test_times_must_say_where_they_are(self):
        self.assertEqual(amounts.parse_iso("2026-03-01T10:00:00+01:00"),
                         datetime(2026, 3, 1, 9, 0))
        self.assertEqual(amounts.parse_iso("2026-03-01T10:00:00Z"), datetime(2026, 3, 1, 10, 0))
        self.assertEqual(amounts.parse_local("2026-07-01 10:00:00", "Europe/Amsterdam"),
                         datetime(2026, 7, 1, 8, 0))
        self.assertEqual(amounts.parse_local("2026-03-01 10:00:00", "CET"),
                         datetime(2026, 3, 1, 9, 0))
        with self.assertRaises(amounts.AmountError):
            amounts.parse_iso("2026-03-01T10:00:00")
        with self.assertRaises(amounts.AmountError):
            amounts.parse_local("2026-03-01 10:00:00", "Mars/Olympus")


class TestParsers(unittest.TestCase):
    def test_canonical_rows_are_checked_line_by_line(self):
        text = "\n".join([
            HEADER,
            "P1,L1,sale,S1,,psp1,10000,250,9750,EUR,2026-03-01T10:00:00+01:00",
            "P1,L2,sale,S2,,psp2,10000,250,9700,EUR,2026-03-01T10:00:00+01:00",
            "P1,L3,refund,S3,,psp3,500,0,500,EUR,2026-03-01T10:00:00+01:00",
            "P1,L4,sale,S4,,psp4,10000,0,10000,USD,2026-03-01T10:00:00+01:00",
            "P2,L5,sale,S5,,psp5,10000,0,10000,EUR,2026-03-01T10:00:00+01:00",
            "P1,L6,sale,S6,,psp6,10000,0,10000,EUR,2026-03-01 10:00",
            "P1,L7,gift,S7,,psp7,10000,0,10000,EUR,2026-03-01T10:00:00+01:00",
            "P1,L8,sale,S8,,psp8,10000,0",
            "P1,P,payout,,,,-9750,0,-9750,EUR,2026-03-02T10:00:00+00:00",
        ]) + "\n"
        payout = parsers.parse_canonical(text)
        self.assertEqual(payout.payout_ref, "P1")
        self.assertEqual(payout.payout_amount, 9750)
        self.assertEqual([line["line_ref"] for line in payout.lines], ["L1", "P"])
        errors = {e.row: e.message for e in payout.errors}
        self.assertEqual(sorted(errors), [3, 4, 5, 6, 7, 8, 9])
        self.assertIn("is not gross", errors[3])
        self.assertIn("wrong sign for a refund", errors[4])
        self.assertIn("differs from the payout's EUR", errors[5])
        self.assertIn("differs from the file's payout", errors[6])
        self.assertIn("has no UTC offset", errors[7])
        self.assertIn("unknown line type", errors[8])
        self.assertIn("wrong number of columns", errors[9])

    def test_stripe_currency_and_own_fees(self):
        text = "\n".join([
            ",".join(parsers.STRIPE_COLUMNS),
            "po_1,2026-03-02 06:00:00,txn_1,2026-03-01 09:00:00,eur,100.00,2.90,97.10,charge,"
            "ch_1,,pi_1,S1,",
            "po_1,2026-03-02 06:00:00,txn_2,2026-03-01 09:30:00,eur,-5.00,0.00,-5.00,fee,"
            ",Radar,,,",
        ]) + "\n"
        payout = parsers.parse_stripe(text)
        self.assertFalse(payout.errors)
        self.assertEqual(payout.currency, "EUR")
        self.assertEqual((payout.lines[1]["gross"], payout.lines[1]["fee"]), (0, 500))
        self.assertEqual(payout.payout_amount, 9210)

    def test_layout_detection(self):
        self.assertEqual(parsers.detect_layout(HEADER + "\n"), "canonical")
        with self.assertRaises(parsers.FileError):
            parsers.parse_file("a,b\n1,2\n")


class TestMatching(unittest.TestCase):
    def test_one_lookup_per_key_in_order(self):
        indexes = matching.Indexes()
        indexes.add_order(matching.Order(1, "S1", 7, 1000, "EUR"), refs=("S1",), psps=("p9",))
        indexes.add_order(matching.Order(2, "S2", 8, 1000, "EUR"), refs=("S2",))
        line = {"type": "sale", "merchant_order_ref": "S2", "psp_reference": "p9",
                "gross": 1000, "currency": "EUR"}
        self.assertEqual(matching.match_line(line, indexes)["order"], 2)
        self.assertEqual(matching.match_line(line, indexes, ("psp_ref", "merchant_ref"))["order"],
                         1)
        results = matching.match_lines([line, dict(line)], indexes)
        self.assertEqual([r["kind"] for r in results], [None, matching.DUPLICATE])
