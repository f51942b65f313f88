# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import fnmatch

import jsonschema
import yaml

from odoo.tests import TransactionCase, tagged
from odoo.tools import file_path

SPEC_PATH = "retail_oms_connector/api/openapi.yaml"

# What the connector calls (retail_exchange.py, sale_order.py, retail_backend.py).
CALLED_OPERATIONS = [
    ("post", "/v1/orders"),
    ("post", "/v1/orders/{order_ref}/cancel"),
    ("post", "/v1/orders/{order_ref}/lines"),
    ("put", "/v1/inventory"),
    ("put", "/v1/products"),
]


def _strict_int(_checker, value):
    # The OMS refuses any JSON number written with a fraction, 2.0 included,
    # while JSON Schema counts 2.0 as an integer: be as strict as the OMS.
    return isinstance(value, int) and not isinstance(value, bool)


def _resolve(spec, ref):
    target = spec
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return target


def schema_errors(spec, name, value):
    """Messages of what in ``value`` breaks the component schema ``name``."""
    base = jsonschema.Draft202012Validator
    validator = jsonschema.validators.extend(
        base, type_checker=base.TYPE_CHECKER.redefine("integer", _strict_int))
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              "$ref": f"#/components/schemas/{name}", "components": spec["components"]}
    return [f"{'.'.join(map(str, error.absolute_path)) or name}: {error.message}"
            for error in validator(schema).iter_errors(value)]


@tagged("post_install", "-at_install")
class TestOpenApi(TransactionCase):
    """The published OpenAPI file says what the connector really does."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with open(file_path(SPEC_PATH), encoding="utf-8") as spec_file:
            cls.spec = yaml.safe_load(spec_file)
        cls.backend = cls.env["retail.backend"].create(
            {"name": "x", "kind": "oms", "base_url": "http://127.0.0.1:9"})

    def _order_payload(self):
        product = self.env["product.product"].create({
            "name": "OpenAPI shirt", "default_code": "OPENAPI-SHIRT", "type": "consu",
            "is_storable": True, "list_price": 19.99})
        partner = self.env["res.partner"].create(
            {"name": "Ada Spec", "email": "ada.spec@example.com"})
        order = self.env["sale.order"].create({
            "partner_id": partner.id,
            "order_line": [(0, 0, {"product_id": product.id, "product_uom_qty": 2,
                                   "price_unit": 19.99})],
        })
        return order._retail_oms_order_payload(self.backend)

    def test_is_an_openapi_3_1_document(self):
        self.assertTrue(str(self.spec["openapi"]).startswith("3.1."))

    def test_every_path_the_connector_calls_is_documented(self):
        operations = [*CALLED_OPERATIONS, ("get", self.backend._get_health_path())]
        for method, path in operations:
            with self.subTest(path=path):
                self.assertIn(path, self.spec["paths"])
                self.assertIn(method, self.spec["paths"][path])

    def test_every_routed_event_type_is_a_webhook(self):
        inbound = self.backend.flow_ids.filtered(lambda f: f.direction == "inbound")
        patterns = [p.strip() for types in inbound.mapped("event_types") if types
                    for p in types.split(",") if p.strip()]
        self.assertTrue(patterns, "an OMS backend routes events")
        webhooks = list(self.spec["webhooks"])
        for pattern in patterns:
            with self.subTest(event_type=pattern):
                self.assertTrue(fnmatch.filter(webhooks, pattern),
                                f"{pattern} is routed but not documented")

    def test_connector_order_payload_validates_against_the_order_schema(self):
        payload = self._order_payload()
        self.assertEqual(payload["lines"][0]["unit_price"], 1999)
        self.assertEqual(schema_errors(self.spec, "Order", payload), [])

    def test_order_schema_refuses_a_float_amount(self):
        payload = self._order_payload()
        payload["lines"][0]["unit_price"] = 19.99
        errors = schema_errors(self.spec, "Order", payload)
        self.assertEqual(len(errors), 1)
        self.assertIn("19.99", errors[0])

    def test_every_error_response_uses_the_shared_error_schema(self):
        error_ref = "#/components/schemas/Error"
        operations = [(f"{path} {method}", operation)
                      for section in ("paths", "webhooks")
                      for path, item in self.spec[section].items()
                      for method, operation in item.items()]
        for name, operation in operations:
            for status, response in operation["responses"].items():
                if str(status)[0] not in "45":
                    continue
                with self.subTest(operation=name, status=status):
                    if "$ref" in response:
                        response = _resolve(self.spec, response["$ref"])
                    schema = response["content"]["application/json"]["schema"]
                    refs = [schema.get("$ref")] + [
                        part.get("$ref") for part in schema.get("allOf", [])]
                    self.assertIn(error_ref, refs)
