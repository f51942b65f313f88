# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import base64
import http.server
import json
import threading
import time

from odoo.tests import HttpCase, TransactionCase, tagged

from odoo.addons.retail_integration_base.tests.common import (
    API_KEY,
    WEBHOOK_SECRET,
    ConnectorConformanceMixin,
    RetailTestMixin,
)

from simulators.common import decode_webhook_secret, sign_webhook

NOTIFICATION = {"notification": {"topic": "listing.paused", "version": 4,
                                 "payload": {"listing_id": "L-77", "reason": "stock"}}}


@tagged("post_install", "-at_install")
class TestExampleConformance(ConnectorConformanceMixin, RetailTestMixin, TransactionCase):
    conformance_kind = "example_marketplace"
    conformance_backend_values = {"example_account": "shop-1"}
    conformance_auth_types = ("bearer", "header", "basic")
    conformance_event = NOTIFICATION
    conformance_subject = "L-77"


@tagged("post_install", "-at_install")
class TestExampleConnector(RetailTestMixin, HttpCase):
    """The example kind end to end, through the framework's own doors."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_retail()
        cls.received = []
        received = cls.received

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_PUT(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append((self.path, dict(self.headers), json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        cls.addClassCleanup(cls.server.server_close)
        cls.addClassCleanup(cls.server.shutdown)
        cls.backend = cls.create_backend(
            name="Example marketplace", kind="example_marketplace", auth_type="basic",
            example_account="shop-1", webhook_subject_keys=False,
            base_url=f"http://127.0.0.1:{cls.server.server_address[1]}")

    def deliver(self, document, event_id):
        raw = document if isinstance(document, bytes) else json.dumps(document).encode()
        timestamp = int(time.time())
        return self.url_open(
            f"/retail/webhook/{self.backend.id}", data=raw, headers={
                "Content-Type": "application/json", "webhook-id": event_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign_webhook(
                    [decode_webhook_secret(WEBHOOK_SECRET)], event_id, timestamp, raw)})

    def test_a_notification_in_its_own_envelope_is_recorded_laned_and_handled(self):
        response = self.deliver(NOTIFICATION, "evt_example_1")
        self.assertEqual(response.status_code, 202, response.text)
        exchange = self.env["retail.exchange"].browse(response.json()["exchange"])
        self.assertEqual((exchange.flow_id.code, exchange.event_type, exchange.event_sequence,
                          exchange.external_ref), ("example_events", "listing.paused", 4, "L-77"))
        self.run_jobs()
        self.assertEqual(exchange.state, "done", exchange.error)

    def test_the_handler_reads_its_own_envelope(self):
        response = self.deliver({"notification": {"topic": "listing.paused", "version": 1,
                                                  "payload": {"reason": "stock"}}},
                                "evt_example_2")
        self.assertEqual(response.status_code, 202, response.text)
        exchange = self.env["retail.exchange"].browse(response.json()["exchange"])
        self.run_jobs()
        self.assertEqual((exchange.state, exchange.failure_class), ("failed", "validation"))
        self.assertIn("needs a listing_id", exchange.error)

    def test_a_malformed_envelope_is_a_recorded_400(self):
        response = self.deliver(b'{"topic": "listing.paused"}', "evt_example_bad")
        self.assertEqual(response.status_code, 400, response.text)
        exchange = self.env["retail.exchange"].browse(
            response.json()["error"]["details"][0]["exchange"])
        self.assertEqual((exchange.state, exchange.failure_class), ("failed", "validation"))

    def test_a_listing_push_goes_out_with_its_auth_scheme(self):
        product = self.env["product.product"].create(
            {"name": "Example lamp", "default_code": "LAMP-1", "list_price": 12.5})
        flow = self.backend._get_flow("example_listing_push")
        exchange = self.env["retail.exchange"]._record_outbound(
            self.backend, flow, "listing:LAMP-1:1", record=product)
        exchange._enqueue()
        self.run_jobs()
        self.assertEqual(exchange.state, "done", exchange.error)
        path, headers, body = self.received[-1]
        self.assertEqual(path, "/listings/LAMP-1")
        self.assertEqual(body, {"sku": "LAMP-1", "title": "Example lamp", "price": 1250})
        expected = base64.b64encode(f"shop-1:{API_KEY}".encode()).decode()
        self.assertEqual(headers["Authorization"], f"Basic {expected}")
        self.assertEqual(headers["Idempotency-Key"], "listing:LAMP-1:1")
