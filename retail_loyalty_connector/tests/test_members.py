# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.exceptions import UserError
from odoo.tests import HttpCase, tagged

from .common import LoyaltyTestMixin


@tagged("post_install", "-at_install")
class TestMembers(LoyaltyTestMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_loyalty()

    def test_enrollment_binds_the_member_and_shows_tier_and_balance(self):
        member_ref = self.enroll(points=250)
        partner = self.customer
        self.assertEqual(partner.retail_loyalty_backend_id, self.backend)
        self.assertEqual(partner.retail_loyalty_tier, "member")
        self.assertEqual(partner.retail_loyalty_balance, 250)
        binding = self.env["retail.binding"]._find(self.backend, partner)
        self.assertEqual((binding.external_id, binding.sync_state), (member_ref, "synced"))
        sent = self.member_state(member_ref)
        self.assertEqual((sent["email"], sent["name"]), ("ada@example.com", "Ada Member"))

    def test_a_customer_already_on_the_platform_is_linked_not_duplicated(self):
        seeded = self.sim("POST", "/_sim/members", {
            "email": "ADA@example.com ", "name": "Ada (store signup)", "balance": 40})
        self.enroll()
        self.assertEqual(self.customer.retail_loyalty_member_ref, seeded["member_ref"])
        self.assertEqual(self.customer.retail_loyalty_balance, 40)
        self.assertEqual(len(self.sim_state()["members"]), 1, "no second member")
        exchange = self.exchanges(self.backend, res_id=self.customer.id).filtered(
            lambda e: e.flow_id.code == "loyalty_enroll")
        self.assertEqual((exchange.state, exchange.http_status), ("done", 409))

    def test_two_partners_claiming_one_member_is_a_visible_conflict(self):
        self.enroll()
        twin = self.env["res.partner"].create({"name": "Ada (duplicate)",
                                               "email": "ada@example.com"})
        twin.action_loyalty_enroll()
        self.run_jobs()
        self.assertFalse(twin.retail_loyalty_member_ref)
        exchange = self.exchanges(self.backend, res_id=twin.id).filtered(
            lambda e: e.flow_id.code == "loyalty_enroll")
        self.assertEqual((exchange.state, exchange.failure_class), ("failed", "business"))
        self.assertIn("Ada Member", exchange.error)
        self.assertEqual(twin.retail_sync_state, "error")

    def test_bulk_enrollment_and_the_contact_rule(self):
        others = self.env["res.partner"].create([
            {"name": f"Customer {n}", "email": f"c{n}@example.com"} for n in range(3)])
        others.with_user(self.salesman).action_loyalty_enroll()
        self.run_jobs()
        self.assertTrue(all(others.mapped("retail_loyalty_member_ref")))
        anonymous = self.env["res.partner"].create({"name": "No contact"})
        with self.assertRaisesRegex(UserError, "email or a phone"):
            anonymous.action_loyalty_enroll()

    def test_automatic_enrollment_on_the_first_order(self):
        self.backend.loyalty_enroll_policy = "first_order"
        order = self.make_order()
        order.action_confirm()
        self.run_jobs()
        self.assertTrue(self.customer.retail_loyalty_member_ref)

    def test_member_webhooks_refresh_the_partner_and_stale_ones_change_nothing(self):
        member_ref = self.enroll()
        self.webhooks_to_odoo()
        self.sim("POST", f"/_sim/members/{member_ref}/adjust", {"points": 1500})
        self.sim("POST", f"/_sim/members/{member_ref}/tier", {"tier": "gold"})
        self.assertTrue(self.sim_wait_idle())
        self.run_jobs()
        self.assertEqual(self.customer.retail_loyalty_tier, "gold")
        self.assertEqual(self.customer.retail_loyalty_balance, 1500)
        self.assertIn("gold", self.customer.message_ids[0].body)
        # An old member.updated arriving late (sequence 1) is ignored.
        self.sim("POST", "/_sim/events", {
            "type": "member.updated", "member_ref": member_ref, "sequence": 1,
            "data": {"member_ref": member_ref, "tier": "member", "balance": 0}})
        self.assertTrue(self.sim_wait_idle())
        self.run_jobs()
        self.assertEqual((self.customer.retail_loyalty_tier, self.customer.retail_loyalty_balance),
                         ("gold", 1500))
        late = self.exchanges(self.backend, event_type="member.updated").sorted("id")[-1]
        self.assertEqual((late.state, late.event_sequence), ("done", 1))

    def test_stale_balances_are_refreshed_by_the_scheduled_action(self):
        member_ref = self.enroll()
        self.sim("POST", f"/_sim/members/{member_ref}/adjust", {"points": 75})
        self.customer.retail_loyalty_refreshed_at = "2020-01-01 00:00:00"
        self.env["res.partner"]._cron_loyalty_refresh_stale()
        self.run_jobs()
        self.assertEqual(self.customer.retail_loyalty_balance, 75)
