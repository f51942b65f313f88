# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.tests import HttpCase, tagged

from .common import OmsTestMixin


@tagged("post_install", "-at_install")
class TestReturns(OmsTestMixin, HttpCase):
    """Returns received by the OMS, in any channel, applied exactly once."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_oms()

    def setUp(self):
        super().setUp()
        self.sim_webhooks_to_odoo()

    def shipped_order(self, invoiced=False):
        order = self.make_order()
        order.action_confirm()
        self.run_jobs()
        self.sim("POST", f"/_sim/orders/{order.name}/fulfil", {"events": ["shipped"]})
        self.assertTrue(self.sim_wait_idle())
        self.run_jobs()
        self.assertEqual(order.retail_oms_state, "fulfilled")
        if invoiced:
            order._create_invoices().action_post()
        return order

    def send_return(self, order, lines, return_ref="RET-1", channel="store"):
        result = self.sim("POST", f"/_sim/orders/{order.name}/return",
                          {"return_ref": return_ref, "channel": channel, "lines": lines})
        self.assertTrue(self.sim_wait_idle())
        self.run_jobs()
        return result

    def return_line(self, order, product, qty, disposition="restock"):
        line = order.order_line.filtered(lambda sol: sol.product_id == product)
        return {"line_ref": str(line.id), "sku": product.default_code, "qty": qty,
                "reason": "too_small", "disposition": disposition,
                "refund": {"amount": int(round(line.price_unit * 100)) * qty,
                           "currency": order.currency_id.name}}

    def test_cross_channel_return_restocks_and_prepares_the_credit_note(self):
        order = self.shipped_order(invoiced=True)
        self.send_return(order, [self.return_line(order, self.tshirt, 1)])
        oms_return = self.env["retail.oms.return"].search([("order_id", "=", order.id)])
        self.assertEqual((oms_return.return_ref, oms_return.channel), ("RET-1", "store"))
        receipt = oms_return.picking_ids
        self.assertEqual(receipt.state, "done")
        self.assertEqual(receipt.move_ids.product_id, self.tshirt)
        self.assertEqual(receipt.move_ids.quantity, 1)
        tshirt = order.order_line.filtered(lambda sol: sol.product_id == self.tshirt)
        self.assertEqual(tshirt.qty_delivered, 1)
        credit = oms_return.credit_note_ids
        self.assertEqual((credit.move_type, credit.state), ("out_refund", "draft"))
        self.assertEqual(credit.invoice_line_ids.filtered(
            lambda aml: aml.product_id == self.tshirt).quantity, 1)
        self.assertEqual(oms_return.refund_amount, 19.99)
        self.assertEqual(credit.reversed_entry_id, order.invoice_ids)
        self.assertFalse(tshirt.qty_to_invoice, "the returned unit is not invoiced again")

    def test_the_same_return_twice_changes_nothing(self):
        order = self.shipped_order(invoiced=True)
        self.send_return(order, [self.return_line(order, self.tshirt, 1)])
        self.sim("POST", "/_sim/events", {"repeat": True})  # same webhook-id
        self.assertTrue(self.sim_wait_idle())
        self.sim("POST", "/_sim/events", {  # same return under a new event id
            "type": "return.received", "order_ref": order.name,
            "data": {"order_ref": order.name, "return_ref": "RET-1", "channel": "store",
                     "lines": [self.return_line(order, self.tshirt, 1)]}})
        self.assertTrue(self.sim_wait_idle())
        self.run_jobs()
        self.assertEqual(len(self.env["retail.oms.return"].search(
            [("order_id", "=", order.id)])), 1)
        self.assertEqual(len(order.picking_ids.filtered(
            lambda p: p.picking_type_code == "incoming")), 1)
        self.assertEqual(self.env["account.move"].search_count([
            ("move_type", "=", "out_refund"), ("invoice_origin", "=", order.name)]), 1,
            "no double refund")
        events = self.exchanges(self.backend, event_type="return.received")
        self.assertEqual(len(events), 2)
        self.assertEqual(set(events.mapped("state")), {"done"})

    def test_delivered_quantity_policy_uses_odoos_own_refund(self):
        (self.tshirt | self.sneaker).product_tmpl_id.invoice_policy = "delivery"
        order = self.shipped_order(invoiced=True)
        self.send_return(order, [self.return_line(order, self.sneaker, 1)])
        credit = self.env["retail.oms.return"].search([("order_id", "=", order.id)]) \
            .credit_note_ids
        self.assertEqual(credit.move_type, "out_refund")
        self.assertIn(credit, order.invoice_ids, "linked to the order like any Odoo refund")
        sneaker = order.order_line.filtered(lambda sol: sol.product_id == self.sneaker)
        self.assertEqual((sneaker.qty_delivered, sneaker.qty_invoiced), (0, 0))

    def test_unusable_goods_are_scrapped_and_a_full_return_marks_the_order(self):
        order = self.shipped_order()
        self.send_return(order, [self.return_line(order, self.tshirt, 2, "unusable"),
                                 self.return_line(order, self.sneaker, 1)])
        oms_return = self.env["retail.oms.return"].search([("order_id", "=", order.id)])
        self.assertEqual(oms_return.scrap_ids.product_id, self.tshirt)
        self.assertEqual(oms_return.scrap_ids.scrap_qty, 2)
        self.assertEqual(oms_return.scrap_ids.state, "done")
        self.assertFalse(oms_return.credit_note_ids, "nothing was invoiced: nothing to refund")
        self.assertEqual(order.retail_oms_state, "returned")
