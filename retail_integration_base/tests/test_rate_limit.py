# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import threading
import time
from unittest.mock import patch

from odoo.tests import TransactionCase, tagged

from ..services.errors import RateLimitDeferred
from .common import RetailTestMixin


@tagged("post_install", "-at_install")
class TestSharedRateLimit(RetailTestMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_retail()
        cls.backend = cls.create_backend(rate_limit_per_second=20, rate_limit_burst=2)

    def tearDown(self):
        with self.env.registry.cursor() as cr:
            cr.execute("DELETE FROM retail_rate_bucket WHERE backend_id = %s", [self.backend.id])
        super().tearDown()

    def test_two_workers_share_one_bucket(self):
        """Two workers, each with its own database cursors, draw from one bucket."""
        calls_per_worker = 12
        errors = []
        self.backend.read(["rate_limit_per_second", "rate_limit_burst"])  # warm the cache

        def worker():
            try:
                for _i in range(calls_per_worker):
                    self.backend._rate_limit_acquire()
            except Exception as exc:  # surfaced below
                errors.append(exc)

        start = time.monotonic()
        threads = [threading.Thread(target=worker) for _i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        elapsed = time.monotonic() - start
        self.assertFalse(errors)
        # 24 calls at 20/s with a burst of 2: at least (24 - 2) / 20 s.
        self.assertGreaterEqual(elapsed, (2 * calls_per_worker - 2) / 20 - 0.05)
        with self.env.registry.cursor() as cr:
            cr.execute("SELECT tokens FROM retail_rate_bucket WHERE backend_id = %s",
                       [self.backend.id])
            self.assertLess(cr.fetchone()[0], 1.0, "the bucket was drained by both workers")

    def test_unlimited_backend_never_waits(self):
        self.backend.rate_limit_per_second = 0
        self.assertEqual(self.backend._rate_limit_acquire(), 0.0)

    def test_long_wait_defers_instead_of_blocking(self):
        self.backend.write({"rate_limit_per_second": 0.2, "rate_limit_burst": 1})
        self.assertEqual(self.backend._rate_limit_acquire(), 0.0)
        with patch("time.sleep") as sleep, self.assertRaises(RateLimitDeferred) as caught:
            # The next token is 5 s away, beyond the 2 s a worker may sleep.
            self.backend._rate_limit_acquire()
        sleep.assert_not_called()  # a deferral does not sleep
        self.assertGreater(caught.exception.seconds, 4.0)
