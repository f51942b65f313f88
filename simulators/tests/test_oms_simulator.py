# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Tests of the OMS simulator over real HTTP on 127.0.0.1 (no Odoo)."""

import base64
import hashlib
import hmac
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from simulators.common import is_loopback_host, sign_webhook
from simulators.oms import OmsSimulator, main

API_KEY = "test-api-key"
SECRET = "whsec_" + base64.b64encode(b"simulator-test-secret-key-32byte").decode()
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Never route loopback calls through an HTTP proxy from the environment.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Result:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body


def call(base, method, path, body=None, headers=None, token=API_KEY, raw=None, timeout=10):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with OPENER.open(request, timeout=timeout) as answer:
            return Result(answer.status, answer.headers, json.loads(answer.read() or b"null"))
    except urllib.error.HTTPError as exc:
        with exc:
            return Result(exc.code, exc.headers, json.loads(exc.read() or b"null"))


def control(base, method, path, body=None):
    result = call(base, method, path, body, token=None)
    assert result.status == 200, result.body
    return result.body


def order_body(order_ref="SO001", **overrides):
    body = {
        "order_ref": order_ref,
        "channel": "web",
        "placed_at": "2026-01-05T10:00:00+01:00",
        "currency": "EUR",
        "totals": {"total": 4998, "tax": 868},
        "customer": {"partner_ref": "P1", "email": "jane@example.com"},
        "fulfillment": {"type": "ship"},
        "payment": {"status": "authorized", "psp_reference": "PSP1"},
        "lines": [
            {"line_ref": "L1", "sku": "SKU-1", "qty": 2, "unit_price": 1999},
            {"line_ref": "L2", "sku": "SKU-2", "qty": 1, "unit_price": 1000},
        ],
    }
    body.update(overrides)
    return body


def verify_signature(headers, body, secret=SECRET):
    """Independent Standard Webhooks verification (no simulator code)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    candidates = [
        item.split(",", 1)[1] for item in headers["webhook-signature"].split()
        if item.startswith("v1,")
    ]
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


class Receiver:
    """A tiny webhook endpoint recording what it gets."""

    def __init__(self):
        self.received = []
        self.statuses = []  # answers to give first, then 202
        self.delay = 0.0  # seconds each answer takes
        # When set, each delivery waits (5 s at most) until this many are in
        # flight together: parallel delivery is proven without timing luck.
        self.gate = 0
        self.in_flight = self.max_in_flight = 0
        self._cond = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._cond:
                    receiver.in_flight += 1
                    receiver.max_in_flight = max(receiver.max_in_flight, receiver.in_flight)
                    receiver._cond.notify_all()
                    if receiver.gate:
                        receiver._cond.wait_for(
                            lambda: receiver.in_flight >= receiver.gate, timeout=5)
                if receiver.delay:
                    time.sleep(receiver.delay)
                with receiver._cond:
                    receiver.in_flight -= 1
                    status = receiver.statuses.pop(0) if receiver.statuses else 202
                    receiver.received.append(
                        ({k.lower(): v for k, v in self.headers.items()}, body, status)
                    )
                    receiver._cond.notify_all()
                payload = b'{"exchange": 1}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/retail/webhook/1"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def wait_for(self, count, timeout=5.0):
        with self._cond:
            self._cond.wait_for(lambda: len(self.received) >= count, timeout=timeout)
            return list(self.received)

    def events(self):
        return [json.loads(body) for _headers, body, status in self.received]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def oms(receiver):
    simulator = OmsSimulator(
        "127.0.0.1", 0, api_key=API_KEY, webhook_url=receiver.url, webhook_secret=SECRET
    )
    # Fast retries keep the tests quick; the production default is 0.5..8 s.
    simulator.update_config({"webhook_retry_delays": [0.01, 0.01, 0.01, 0.01, 0.01]})
    simulator.start()
    yield simulator
    simulator.stop()


def create_order(oms, order_ref="SO001", key=None, **overrides):
    headers = {"Idempotency-Key": key} if key else {}
    result = call(oms.url, "POST", "/v1/orders", order_body(order_ref, **overrides), headers)
    assert result.status == 201, result.body
    return result.body


# -- /v1/ API --------------------------------------------------------------------


def test_health_needs_nothing_but_the_token(oms):
    result = call(oms.url, "GET", "/v1/health")
    assert (result.status, result.body) == (200, {"status": "ok"})


def test_create_order_answers_201_with_oms_id(oms):
    result = call(oms.url, "POST", "/v1/orders", order_body(),
                  {"Idempotency-Key": "k1", "X-Correlation-ID": "corr-1"})
    assert result.status == 201
    assert result.body == {"order_ref": "SO001", "oms_order_id": "OMS-000001",
                           "status": "accepted"}
    state = control(oms.url, "GET", "/_sim/state")
    assert state["orders_created"] == 1
    order = state["orders"]["SO001"]
    assert order["status"] == "accepted"
    assert [line["qty"] for line in order["lines"]] == [2, 1]
    assert state["counters"]["POST /v1/orders"] == 1
    assert state["requests"][-1]["correlation_id"] == "corr-1"
    assert state["requests"][-1]["idempotency_key"] == "k1"


def test_idempotent_replay_returns_first_answer_and_creates_nothing(oms):
    first = call(oms.url, "POST", "/v1/orders", order_body(), {"Idempotency-Key": "k1"})
    # Same content, other key order: still the same request.
    reordered = dict(reversed(list(order_body().items())))
    again = call(oms.url, "POST", "/v1/orders", reordered, {"Idempotency-Key": "k1"})
    assert again.status == first.status == 201
    assert again.body == first.body
    assert again.headers["Idempotent-Replayed"] == "true"
    state = control(oms.url, "GET", "/_sim/state")
    assert state["orders_created"] == 1
    assert [r["replayed"] for r in state["requests"]] == [False, True]


def test_concurrent_requests_with_one_key_create_one_order(oms):
    results = []

    def post():
        results.append(call(oms.url, "POST", "/v1/orders", order_body(),
                            {"Idempotency-Key": "k1"}))

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {(r.status, json.dumps(r.body)) for r in results} == {
        (201, json.dumps({"order_ref": "SO001", "oms_order_id": "OMS-000001",
                          "status": "accepted"}))}
    assert control(oms.url, "GET", "/_sim/state")["orders_created"] == 1


def test_same_key_with_other_body_is_409_idempotency_conflict(oms):
    create_order(oms, key="k1")
    other = order_body(lines=[{"line_ref": "L1", "sku": "SKU-1", "qty": 5, "unit_price": 1999}])
    result = call(oms.url, "POST", "/v1/orders", other, {"Idempotency-Key": "k1"})
    assert result.status == 409
    assert result.body["error"]["code"] == "idempotency_conflict"
    assert control(oms.url, "GET", "/_sim/state")["orders_created"] == 1


def test_same_order_ref_with_other_key_is_409_duplicate_order(oms):
    create_order(oms, key="k1")
    result = call(oms.url, "POST", "/v1/orders", order_body(), {"Idempotency-Key": "k2"})
    assert result.status == 409
    assert result.body["error"]["code"] == "duplicate_order"
    assert result.body["error"]["details"][0]["oms_order_id"] == "OMS-000001"
    assert control(oms.url, "GET", "/_sim/state")["orders_created"] == 1


def test_missing_or_wrong_token_is_401_and_never_logged(oms):
    missing = call(oms.url, "GET", "/v1/health", token=None)
    wrong = call(oms.url, "POST", "/v1/orders", order_body(), token="nope")
    for result in (missing, wrong):
        assert result.status == 401
        assert result.body["error"]["code"] == "unauthorized"
    state = control(oms.url, "GET", "/_sim/state")
    assert state["orders_created"] == 0
    assert "nope" not in json.dumps(state["requests"])
    assert API_KEY not in json.dumps(state)


def test_missing_email_is_422_validation_error(oms):
    for customer in ({"partner_ref": "P1"}, {"email": "not-an-email"}):
        result = call(oms.url, "POST", "/v1/orders", order_body(customer=customer))
        assert result.status == 422
        assert result.body["error"]["code"] == "validation_error"
        assert result.body["error"]["details"][0]["field"] == "customer.email"
    assert control(oms.url, "GET", "/_sim/state")["orders_created"] == 0


def test_unknown_sku_is_422(oms):
    lines = [{"line_ref": "L1", "sku": "UNKNOWN-9", "qty": 1, "unit_price": 100}]
    result = call(oms.url, "POST", "/v1/orders", order_body(lines=lines))
    assert result.status == 422
    assert result.body["error"]["code"] == "unknown_sku"
    assert result.body["error"]["details"][0]["field"] == "lines[0].sku"


def test_float_amount_and_missing_fields_are_400_with_details(oms):
    body = order_body(lines=[{"line_ref": "L1", "sku": "S", "qty": 1, "unit_price": 19.99}],
                      totals={"total": 19.99})
    del body["currency"]
    result = call(oms.url, "POST", "/v1/orders", body)
    assert result.status == 400
    fields = {d["field"]: d["code"] for d in result.body["error"]["details"]}
    assert fields == {"currency": "required", "lines[0].unit_price": "not_integer",
                      "totals.total": "not_integer"}


def test_malformed_json_is_400(oms):
    result = call(oms.url, "POST", "/v1/orders", raw=b"{not json")
    assert result.status == 400
    assert result.body["error"]["code"] == "malformed_json"


def test_body_over_one_mib_is_413(oms):
    raw = json.dumps({"levels": [], "pad": "x" * (1024 * 1024)}).encode()
    result = call(oms.url, "PUT", "/v1/inventory", raw=raw)
    assert result.status == 413
    assert result.body["error"]["code"] == "payload_too_large"


def test_unknown_route_is_404_in_the_error_format(oms):
    result = call(oms.url, "GET", "/v1/nothing")
    assert result.status == 404
    assert set(result.body["error"]) == {"code", "message", "details"}


def test_inventory_counts_stale_and_accepted_levels(oms):
    def level(sku, sequence, available=5):
        return {"sku": sku, "location_ref": "WH", "available": available, "on_hand": 7,
                "sequence": sequence}

    first = call(oms.url, "PUT", "/v1/inventory", {"levels": [level("A", 5), level("B", 1)]})
    assert first.body == {"accepted": 2, "stale": 0}
    second = call(oms.url, "PUT", "/v1/inventory",
                  {"levels": [level("A", 4, 1), level("A", 5, 1), level("B", 2, 9)]})
    assert second.body == {"accepted": 1, "stale": 2}
    levels = control(oms.url, "GET", "/_sim/inventory?sku=A&location_ref=WH")["levels"]
    assert [(lv["available"], lv["sequence"]) for lv in levels] == [(5, 5)]
    totals = control(oms.url, "GET", "/_sim/state")["inventory_totals"]
    assert totals == {"calls": 2, "levels": 5, "accepted": 3, "stale": 2}


def test_more_than_1000_levels_is_413_and_applies_nothing(oms):
    levels = [{"sku": f"S{i}", "location_ref": "WH", "available": 1, "on_hand": 1,
               "sequence": 1} for i in range(1001)]
    result = call(oms.url, "PUT", "/v1/inventory", {"levels": levels})
    assert result.status == 413
    assert result.body["error"]["code"] == "too_many_levels"
    ok = call(oms.url, "PUT", "/v1/inventory", {"levels": levels[:1000]})
    assert ok.body == {"accepted": 1000, "stale": 0}


def test_products_are_accepted(oms):
    products = [{"sku": "A", "name": "Shirt", "barcode": "123", "price": 1999,
                 "currency": "EUR", "active": True}]
    assert call(oms.url, "PUT", "/v1/products", {"products": products}).body == {"accepted": 1}
    listed = control(oms.url, "GET", "/_sim/products?sku=A")["products"]
    assert listed[0]["price"] == 1999


# -- fault injection -----------------------------------------------------------------


def _health_statuses(oms, count):
    return [call(oms.url, "GET", "/v1/health").status for _ in range(count)]


def test_error_rate_is_seeded_and_reproducible(oms):
    control(oms.url, "POST", "/_sim/faults", {"error_rate": 0.5, "seed": 42})
    first = _health_statuses(oms, 30)
    assert set(first) == {200, 503}
    control(oms.url, "POST", "/_sim/faults", {"seed": 42})
    assert _health_statuses(oms, 30) == first
    # Faults never touch the control API.
    control(oms.url, "POST", "/_sim/faults", {"error_rate": 1.0})
    assert call(oms.url, "GET", "/_sim/state", token=None).status == 200


def test_injected_503_is_not_remembered_by_the_idempotency_store(oms):
    control(oms.url, "POST", "/_sim/faults", {"error_rate": 1.0})
    failed = call(oms.url, "POST", "/v1/orders", order_body(), {"Idempotency-Key": "k1"})
    assert failed.status == 503
    assert failed.body["error"]["code"] == "service_unavailable"
    control(oms.url, "POST", "/_sim/faults", {"error_rate": 0.0})
    retried = call(oms.url, "POST", "/v1/orders", order_body(), {"Idempotency-Key": "k1"})
    assert retried.status == 201


def test_burst_429_carries_retry_after(oms):
    control(oms.url, "POST", "/_sim/faults", {"burst_429": 2})
    results = [call(oms.url, "GET", "/v1/health") for _ in range(3)]
    assert [r.status for r in results] == [429, 429, 200]
    assert results[0].headers["Retry-After"] == "1"
    assert results[0].body["error"]["code"] == "rate_limited"
    assert control(oms.url, "GET", "/_sim/faults")["burst_429"] == 0


def test_timeout_fault_applies_the_request_then_answers_late(oms):
    control(oms.url, "POST", "/_sim/faults", {"timeout_rate": 1.0, "timeout_sleep_s": 0.5})
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        call(oms.url, "POST", "/v1/orders", order_body(), {"Idempotency-Key": "k1"},
             timeout=0.1)
    control(oms.url, "POST", "/_sim/faults", {"timeout_rate": 0.0})
    # The client retries with the same key: the first outcome, one order.
    retried = call(oms.url, "POST", "/v1/orders", order_body(), {"Idempotency-Key": "k1"})
    assert retried.status == 201
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert control(oms.url, "GET", "/_sim/state")["orders_created"] == 1


def test_unknown_fault_setting_is_refused(oms):
    result = call(oms.url, "POST", "/_sim/faults", {"error_rat": 1}, token=None)
    assert result.status == 400
    assert result.body["error"]["details"][0]["field"] == "error_rat"


# -- webhooks ----------------------------------------------------------------------------


def test_signer_matches_the_standard_webhooks_reference_vector():
    key = base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    header = sign_webhook([key], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                          b'{"test": 2432232314}')
    assert header == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_fulfil_emits_signed_webhooks_in_sequence(oms, receiver):
    create_order(oms, key="k1")
    answer = control(oms.url, "POST", "/_sim/orders/SO001/fulfil",
                     {"location_ref": "WH1", "events": ["accepted", "shipped", "delivered"]})
    assert answer["order_status"] == "delivered"
    received = receiver.wait_for(3)
    assert len(received) == 3
    now = time.time()
    for headers, body, _status in received:
        assert headers["content-type"] == "application/json"
        assert headers["webhook-id"].startswith("evt_")
        assert abs(int(headers["webhook-timestamp"]) - now) < 300
        assert verify_signature(headers, body)
        assert not verify_signature(headers, body, "whsec_" + base64.b64encode(b"x").decode())
    events = receiver.events()
    assert [e["type"] for e in events] == [
        "fulfillment.accepted", "fulfillment.shipped", "fulfillment.delivered"]
    assert [e["sequence"] for e in events] == [1, 2, 3]
    assert [e["id"] for e in events] == [h["webhook-id"] for h, _b, _s in received]
    shipped = events[1]
    assert "+00:00" in shipped["occurred_at"]
    assert shipped["data"]["order_ref"] == "SO001"
    assert shipped["data"]["location_ref"] == "WH1"
    assert shipped["data"]["type"] == "ship"
    assert shipped["data"]["lines"] == [{"line_ref": "L1", "sku": "SKU-1", "qty": 2},
                                        {"line_ref": "L2", "sku": "SKU-2", "qty": 1}]
    parcel = shipped["data"]["parcels"][0]
    assert parcel["carrier"] == "DHL"
    assert parcel["tracking_number"] == answer["tracking_numbers"][0]
    assert parcel["tracking_number"].startswith("TRK")
    assert control(oms.url, "POST", "/_sim/wait_idle", {"timeout": 5}) == {"idle": True}
    deliveries = control(oms.url, "GET", "/_sim/state")["webhooks"]["deliveries"]
    assert [(d["status"], d["attempts"], d["last_status"]) for d in deliveries] == [
        ("delivered", 1, 202)] * 3


def test_split_shipment_and_over_shipment(oms, receiver):
    create_order(oms)
    partial = control(oms.url, "POST", "/_sim/orders/SO001/fulfil",
                      {"lines": [{"line_ref": "L1", "sku": "SKU-1", "qty": 1}]})
    assert partial["order_status"] == "partially_shipped"
    too_much = call(oms.url, "POST", "/_sim/orders/SO001/fulfil",
                    {"lines": [{"line_ref": "L1", "qty": 2}]}, token=None)
    assert too_much.status == 409
    assert too_much.body["error"]["code"] == "over_shipment"
    rest = control(oms.url, "POST", "/_sim/orders/SO001/fulfil", {})
    assert rest["order_status"] == "shipped"
    assert rest["fulfillment_ref"] != partial["fulfillment_ref"]
    events = [json.loads(b) for _h, b, _s in receiver.wait_for(2)]
    assert [e["data"]["lines"] for e in events] == [
        [{"line_ref": "L1", "sku": "SKU-1", "qty": 1}],
        [{"line_ref": "L1", "sku": "SKU-1", "qty": 1},
         {"line_ref": "L2", "sku": "SKU-2", "qty": 1}],
    ]


def test_duplicate_delivery_resends_the_same_event(oms, receiver):
    create_order(oms)
    control(oms.url, "POST", "/_sim/faults", {"duplicate_rate": 1.0})
    control(oms.url, "POST", "/_sim/orders/SO001/fulfil", {})
    received = receiver.wait_for(2)
    assert len(received) == 2
    (h1, b1, _), (h2, b2, _) = received
    assert h1["webhook-id"] == h2["webhook-id"]
    assert b1 == b2
    deliveries = control(oms.url, "GET", "/_sim/webhooks")["deliveries"]
    assert [d["duplicate"] for d in deliveries] == [False, True]


def test_out_of_order_swaps_two_events(oms, receiver):
    create_order(oms)
    control(oms.url, "POST", "/_sim/faults", {"out_of_order": True})
    control(oms.url, "POST", "/_sim/orders/SO001/fulfil", {"events": ["accepted", "shipped"]})
    receiver.wait_for(2)
    events = receiver.events()
    assert [(e["type"], e["sequence"]) for e in events] == [
        ("fulfillment.shipped", 2), ("fulfillment.accepted", 1)]


def test_out_of_order_releases_a_lone_event(oms, receiver):
    create_order(oms)
    control(oms.url, "POST", "/_sim/faults", {"out_of_order": True, "out_of_order_hold_s": 0.1})
    control(oms.url, "POST", "/_sim/orders/SO001/cancel_event", {})
    assert control(oms.url, "POST", "/_sim/wait_idle", {"timeout": 5}) == {"idle": True}
    assert [e["type"] for e in receiver.events()] == ["order.cancelled"]


def test_failed_deliveries_are_retried_then_recorded(oms, receiver):
    create_order(oms)
    receiver.statuses = [500, 503]
    control(oms.url, "POST", "/_sim/orders/SO001/fulfil", {})
    control(oms.url, "POST", "/_sim/wait_idle", {"timeout": 5})
    received = receiver.received
    assert [s for _h, _b, s in received] == [500, 503, 202]
    assert len({h["webhook-id"] for h, _b, _s in received}) == 1
    delivery = control(oms.url, "GET", "/_sim/webhooks")["deliveries"][0]
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 3)

    receiver.statuses = [500] * 6
    control(oms.url, "POST", "/_sim/orders/SO001/cancel_event", {"force": True})
    control(oms.url, "POST", "/_sim/wait_idle", {"timeout": 5})
    delivery = control(oms.url, "GET", "/_sim/webhooks")["deliveries"][-1]
    assert (delivery["status"], delivery["attempts"], delivery["last_status"]) == (
        "failed", 6, 500)


def test_secret_rotation_signs_with_every_active_secret(oms, receiver):
    new_secret = "whsec_" + base64.b64encode(b"the-new-secret").decode()
    config = control(oms.url, "POST", "/_sim/config", {"webhook_secret": [SECRET, new_secret]})
    assert config["webhook_secret_count"] == 2
    assert SECRET not in json.dumps(config)
    create_order(oms)
    control(oms.url, "POST", "/_sim/orders/SO001/cancel_event", {})
    # Signatures are computed at send time: let the first one go out first.
    assert control(oms.url, "POST", "/_sim/wait_idle", {"timeout": 5}) == {"idle": True}
    control(oms.url, "POST", "/_sim/config", {"webhook_secret": new_secret})
    control(oms.url, "POST", "/_sim/events", {"type": "order.cancelled", "order_ref": "SO001"})
    (h1, b1, _), (h2, b2, _) = receiver.wait_for(2)
    assert len(h1["webhook-signature"].split()) == 2
    assert verify_signature(h1, b1, SECRET) and verify_signature(h1, b1, new_secret)
    assert verify_signature(h2, b2, new_secret) and not verify_signature(h2, b2, SECRET)


def test_invalid_config_changes_nothing(oms):
    result = call(oms.url, "POST", "/_sim/config",
                  {"webhook_secret": "whsec_***", "auto_fulfil": True}, token=None)
    assert result.status == 400
    assert control(oms.url, "GET", "/_sim/config")["auto_fulfil"] is False


# -- order life cycle -----------------------------------------------------------------------


def test_cancel_is_200_before_shipping_and_409_after(oms):
    create_order(oms, "SO001")
    cancelled = call(oms.url, "POST", "/v1/orders/SO001/cancel", {"reason": "customer"})
    assert (cancelled.status, cancelled.body) == (200, {"order_ref": "SO001",
                                                        "status": "cancelled"})
    create_order(oms, "SO002")
    control(oms.url, "POST", "/_sim/orders/SO002/fulfil",
            {"lines": [{"line_ref": "L2", "qty": 1}]})
    refused = call(oms.url, "POST", "/v1/orders/SO002/cancel", {"reason": "customer"})
    assert refused.status == 409
    assert refused.body["error"]["code"] == "already_shipped"
    missing = call(oms.url, "POST", "/v1/orders/NOPE/cancel", {"reason": "x"})
    assert missing.status == 404
    counters = control(oms.url, "GET", "/_sim/state")["counters"]
    assert counters["POST /v1/orders/{order_ref}/cancel"] == 3


def test_unfulfillable_return_and_cancel_events(oms, receiver):
    create_order(oms)
    control(oms.url, "POST", "/_sim/orders/SO001/unfulfillable",
            {"lines": [{"line_ref": "L2", "sku": "SKU-2", "qty": 1}], "reason": "no stock"})
    control(oms.url, "POST", "/_sim/orders/SO001/fulfil", {})
    answer = control(oms.url, "POST", "/_sim/orders/SO001/return", {
        "channel": "store",
        "lines": [{"line_ref": "L1", "sku": "SKU-1", "qty": 1, "reason": "too small",
                   "disposition": "unusable", "refund": {"amount": 1999, "currency": "EUR"}}],
    })
    assert answer["return_ref"].startswith("RET-")
    over = call(oms.url, "POST", "/_sim/orders/SO001/return",
                {"lines": [{"line_ref": "L1", "qty": 2}]}, token=None)
    assert over.status == 409
    events = [json.loads(b) for _h, b, _s in receiver.wait_for(3)]
    assert [(e["type"], e["sequence"]) for e in events] == [
        ("fulfillment.cancelled", 1), ("fulfillment.shipped", 2), ("return.received", 3)]
    assert events[0]["data"]["lines"] == [{"line_ref": "L2", "sku": "SKU-2", "qty": 1}]
    assert events[0]["data"]["reason"] == "no stock"
    assert events[1]["data"]["lines"] == [{"line_ref": "L1", "sku": "SKU-1", "qty": 2}]
    assert events[2]["data"] == {
        "return_ref": answer["return_ref"], "order_ref": "SO001", "channel": "store",
        "lines": [{"line_ref": "L1", "sku": "SKU-1", "qty": 1, "reason": "too small",
                   "disposition": "unusable", "refund": {"amount": 1999, "currency": "EUR"}}],
    }
    order = control(oms.url, "GET", "/_sim/orders/SO001")
    assert order["status"] == "shipped"
    assert [line["returned_qty"] for line in order["lines"]] == [1, 0]


def test_raw_events_with_explicit_sequence_and_repeat(oms, receiver):
    control(oms.url, "POST", "/_sim/events",
            {"type": "fulfillment.shipped", "order_ref": "SO9", "sequence": 5, "data": {}})
    control(oms.url, "POST", "/_sim/events",
            {"type": "fulfillment.accepted", "order_ref": "SO9", "sequence": 3})
    control(oms.url, "POST", "/_sim/events", {"repeat": True})
    control(oms.url, "POST", "/_sim/events", {"type": "order.cancelled", "order_ref": "SO9"})
    received = receiver.wait_for(4)
    events = [json.loads(b) for _h, b, _s in received]
    assert [e["sequence"] for e in events] == [5, 3, 3, 6]
    assert events[0]["data"] == {"order_ref": "SO9"}
    assert received[1][0]["webhook-id"] == received[2][0]["webhook-id"]
    assert received[1][1] == received[2][1]


def test_auto_fulfil_ships_or_readies_for_pickup(oms, receiver):
    control(oms.url, "POST", "/_sim/config", {"auto_fulfil": True, "auto_fulfil_delay": 0.05})
    create_order(oms, "SO001")
    create_order(oms, "SO002", fulfillment={"type": "pickup", "pickup_location_ref": "STORE7"})
    assert control(oms.url, "POST", "/_sim/wait_idle", {"timeout": 5}) == {"idle": True}
    by_order = {}
    for event in receiver.events():
        by_order.setdefault(event["data"]["order_ref"], []).append(
            (event["type"], event["data"]["location_ref"]))
    assert by_order == {
        "SO001": [("fulfillment.accepted", "WH"), ("fulfillment.shipped", "WH")],
        "SO002": [("fulfillment.accepted", "STORE7"),
                  ("fulfillment.ready_for_pickup", "STORE7")],
    }


def test_reset_clears_state_and_faults(oms):
    create_order(oms, key="k1")
    control(oms.url, "POST", "/_sim/faults", {"latency_ms": 5})
    assert control(oms.url, "POST", "/_sim/reset") == {"reset": True}
    state = control(oms.url, "GET", "/_sim/state")
    assert (state["orders"], state["orders_created"], state["counters"]) == ({}, 0, {})
    assert state["faults"]["latency_ms"] == 0
    assert state["idempotency_keys"] == 0


def test_state_file_survives_a_restart(tmp_path, receiver):
    path = str(tmp_path / "oms.json")
    with OmsSimulator(api_key=API_KEY, state_file=path) as first:
        create_order(first, key="k1")
    with OmsSimulator(api_key=API_KEY, state_file=path) as second:
        replay = call(second.url, "POST", "/v1/orders", order_body(), {"Idempotency-Key": "k1"})
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert control(second.url, "GET", "/_sim/state")["orders_created"] == 1


# -- loopback only, CLI ------------------------------------------------------------------------


def test_non_loopback_hosts_are_refused():
    for host in ("127.0.0.1", "127.1.2.3", "::1", "localhost"):
        assert is_loopback_host(host)
    for host in ("0.0.0.0", "", "192.168.1.10", "example.com", "::"):
        assert not is_loopback_host(host)
        with pytest.raises(ValueError):
            OmsSimulator(host)
    with pytest.raises(SystemExit) as exit_info:
        main(["--host", "0.0.0.0", "--port", "0"])
    assert exit_info.value.code == 2


def test_cli_prints_the_listening_line():
    process = subprocess.Popen(
        [sys.executable, "-m", "simulators.oms", "--port", "0", "--api-key", API_KEY],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("OMS simulator listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1]
        assert call(url, "GET", "/v1/health").body == {"status": "ok"}
    finally:
        process.terminate()
        assert process.wait(timeout=5) == 0
        process.stdout.close()
        process.stderr.close()


def test_line_quantities_can_be_reduced_until_allocated(oms):
    """Suite extension: reduce ordered quantities before fulfillment."""
    body = order_body("SO-R")
    body["lines"] = [{"line_ref": "1", "sku": "S", "qty": 3, "unit_price": 100}]
    assert call(oms.url, "POST", "/v1/orders", body).status == 201
    result = call(oms.url, "POST", "/v1/orders/SO-R/lines",
                  {"lines": [{"line_ref": "1", "qty": 2}]})
    assert (result.status, result.body["lines"]) == (200, [{"line_ref": "1", "qty": 2}])
    result = call(oms.url, "POST", "/v1/orders/SO-R/lines",
                  {"lines": [{"line_ref": "1", "qty": 5}]})
    assert (result.status, result.body["error"]["code"]) == (422, "increase_not_allowed")
    control(oms.url, "POST", "/_sim/orders/SO-R/fulfil", {"events": ["shipped"]})
    result = call(oms.url, "POST", "/v1/orders/SO-R/lines",
                  {"lines": [{"line_ref": "1", "qty": 1}]})
    assert (result.status, result.body["error"]["code"]) == (409, "already_fulfilled")


def test_parallel_webhook_workers_deliver_everything_at_once(oms, receiver):
    """webhook_workers > 1: several deliveries under way together, none lost."""
    receiver.gate = 4
    assert control(oms.url, "POST", "/_sim/config", {"webhook_workers": 4})["webhook_workers"] == 4
    for n in range(4):
        create_order(oms, order_ref=f"SO10{n}", key=f"kp{n}")
        control(oms.url, "POST", f"/_sim/orders/SO10{n}/fulfil", {"events": ["shipped"]})
    assert control(oms.url, "POST", "/_sim/wait_idle", {"timeout": 10}) == {"idle": True}
    assert receiver.max_in_flight == 4, "the four deliveries were under way together"
    assert sorted(e["data"]["order_ref"] for e in receiver.events()) == [
        "SO100", "SO101", "SO102", "SO103"]
    assert control(oms.url, "POST", "/_sim/config", {"webhook_workers": 1})["webhook_workers"] == 1
    bad = call(oms.url, "POST", "/_sim/config", {"webhook_workers": 0})
    assert bad.status == 400
