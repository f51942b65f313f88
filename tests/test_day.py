# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.tests import HttpCase, tagged

from odoo.addons.retail_integration.scenario.day import RetailDay
from odoo.addons.retail_integration_base.tests.common import (
    API_KEY,
    WEBHOOK_SECRET,
    RetailTestMixin,
)

from simulators.loyalty import LoyaltySimulator
from simulators.oms import OmsSimulator
from simulators.settlement import SettlementSimulator


@tagged("post_install", "-at_install")
class TestRetailDay(RetailTestMixin, HttpCase):
    """A small retailer's day against the simulators; the invariants hold."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_retail()
        cls.sims = {}
        for name, klass, extra in (
                ("oms", OmsSimulator, {}),
                ("loyalty", LoyaltySimulator,
                 {"currency": cls.env.company.currency_id.name}),
                ("settlement", SettlementSimulator, {})):
            sim = klass("127.0.0.1", port=0, api_key=API_KEY, webhook_secret=WEBHOOK_SECRET,
                        **extra)
            sim.start()
            cls.addClassCleanup(sim.stop)
            cls.sims[name] = sim
        cls.backends = {
            "oms": cls.create_backend(name="OMS (day)", kind="oms",
                                      base_url=cls.sims["oms"].url, retry_max_attempts=12),
            "loyalty": cls.create_backend(name="Loyalty (day)", kind="loyalty",
                                          base_url=cls.sims["loyalty"].url,
                                          connect_timeout=1, read_timeout=3,
                                          retry_max_attempts=12),
            "settlement": cls.create_backend(name="PSP (day)", kind="settlement",
                                             base_url=cls.sims["settlement"].url,
                                             settlement_since="2026-01-01"),
        }

    def setUp(self):
        super().setUp()
        for name, sim in self.sims.items():
            sim.reset()
            if name == "settlement":
                continue  # pays out, sends no webhooks
            sim.update_config({
                "webhook_url": f"{self.base_url()}/retail/webhook/{self.backends[name].id}",
                "webhook_retry_delays": [0.2, 0.5, 1, 2, 4], "webhook_timeout": 30})
            self.addCleanup(sim.reset)

    def day(self, size):
        day = RetailDay(self.env, self.backends,
                        {name: sim.url for name, sim in self.sims.items()},
                        lambda: self.run_jobs(max_rounds=60), size=size,
                        lock=self.registry.test_lock)
        self.registry.test_lock.acquire()
        self.addCleanup(self.registry.test_lock.release)
        return day

    def assertInvariants(self, day):
        problems = {name: found for name, found in day.invariants().items() if found}
        self.assertFalse(problems, problems)

    def test_a_day_ends_with_every_invariant_true(self):
        day = self.day(10)
        day.prepare()
        report = day.run()
        self.assertInvariants(day)
        self.assertEqual(report["orders"], 10)
        self.assertGreater(report["fulfilled"], 5)
        self.assertTrue(report["returns"])
        self.assertTrue(report["loyalty_transactions"])
        self.assertFalse(report["exceptions"], report["exceptions"])
        settlement = report["settlement"]
        self.assertTrue(settlement["posted"] and settlement["balanced"], settlement)
        self.assertEqual(settlement["matched"], settlement["lines"])

    def test_a_faulty_day_with_a_worker_crash_ends_with_every_invariant_true(self):
        for sim in self.sims.values():
            sim.faults.update({"error_rate": 0.05, "burst_429": 2, "retry_after_s": 1,
                               "latency_ms": 5, "duplicate_rate": 0.2, "out_of_order": True,
                               "out_of_order_hold_s": 0.2, "seed": 11})
        crashed, calls = [], []

        def run_jobs_with_a_crash():
            # Mid-day (orders placed, fulfilment under way) a worker dies with
            # jobs in hand: they stay "started" until the runner's restart
            # requeues them, then run again.
            calls.append(1)
            if len(calls) == 4 and not crashed:
                jobs = self.env["queue.job"].sudo().search([("state", "=", "pending")], limit=3)
                jobs.write({"state": "started"})
                crashed.append(len(jobs))
                # What the runner does for jobs of a dead worker.
                self.env["queue.job"].sudo().search(
                    [("state", "=", "started")])._change_job_state("pending")
            self.run_jobs(max_rounds=60)

        day = self.day(8)
        day.run_jobs = run_jobs_with_a_crash
        day.prepare()
        day.run()
        self.assertTrue(crashed and crashed[0], "jobs were in hand when the worker died")
        deliveries = self.sims["oms"].webhooks.snapshot()["deliveries"]
        self.assertTrue(any(d["duplicate"] for d in deliveries), "duplicates were injected")
        self.assertInvariants(day)
