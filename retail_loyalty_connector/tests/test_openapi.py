# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import yaml

from odoo.tests import TransactionCase, tagged
from odoo.tools import file_path

from odoo.addons.retail_oms_connector.tests.test_openapi import schema_errors

from simulators.loyalty import LoyaltySimulator

SPEC_PATH = "retail_loyalty_connector/api/openapi.yaml"


@tagged("post_install", "-at_install")
class TestOpenApi(TransactionCase):
    """The published contract, the reference simulator and the connector agree."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with open(file_path(SPEC_PATH), encoding="utf-8") as spec_file:
            cls.spec = yaml.safe_load(spec_file)

    def test_is_an_openapi_3_1_document(self):
        self.assertTrue(str(self.spec["openapi"]).startswith("3.1."))

    def test_every_simulator_route_is_documented_and_back(self):
        simulator = LoyaltySimulator("127.0.0.1", port=0)
        simulator.register_routes()
        routes = {(r.method.lower(), r.template) for r in simulator._routes if r.kind == "api"}
        documented = {(method, path) for path, item in self.spec["paths"].items()
                      for method in item if method in ("get", "post", "put", "delete")}
        self.assertEqual(routes, documented)

    def test_the_member_events_odoo_routes_are_published_webhooks(self):
        self.assertEqual(set(self.spec.get("webhooks", {})),
                         {"member.updated", "member.tier_changed", "points.expired"})

    def test_the_connector_payloads_validate_against_the_schemas(self):
        backend = self.env["retail.backend"].create(
            {"name": "x", "kind": "loyalty", "base_url": "http://127.0.0.1:9"})
        partner = self.env["res.partner"].create(
            {"name": "Ada Spec", "email": "ada.spec@example.com", "phone": "+33 6 12"})
        product = self.env["product.product"].create(
            {"name": "Spec shirt", "default_code": "SPEC", "list_price": 10.0})
        order = self.env["sale.order"].create({
            "partner_id": partner.id,
            "order_line": [(0, 0, {"product_id": product.id, "product_uom_qty": 2})]})
        earn = self.env["retail.loyalty.transaction"].create({
            "backend_id": backend.id, "type": "earn", "state": "queued",
            "partner_id": partner.id, "member_ref": "M-1", "order_id": order.id,
            "amount": order.amount_total, "currency_id": order.currency_id.id,
            "idempotency_key": "earn:spec"})
        self.assertEqual(schema_errors(self.spec, "MemberEnrolment",
                                       partner._loyalty_member_payload()), [])
        self.assertEqual(schema_errors(self.spec, "EarnRequest", earn._loyalty_payload()), [])
