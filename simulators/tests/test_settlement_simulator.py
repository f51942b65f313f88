# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Tests of the settlement simulator over real HTTP on 127.0.0.1 (no Odoo)."""

import csv
import io
import json
import urllib.error
import urllib.request

import pytest

from simulators.settlement import SettlementSimulator, main

API_KEY = "test-api-key"
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(base, method, path, body=None, token=API_KEY):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with OPENER.open(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read() or b"null")


LINES = [
    {"type": "sale", "merchant_order_ref": "S001", "gross": 10000, "fee": 250,
     "booked_at": "2026-03-01T10:00:00+01:00"},
    {"type": "refund", "merchant_order_ref": "S002", "merchant_refund_ref": "R1",
     "gross": -5000},
    {"type": "chargeback", "merchant_order_ref": "S003", "gross": -3000, "fee": 1500},
    {"type": "chargeback_reversal", "merchant_order_ref": "S003", "gross": 3000},
    {"type": "fee", "gross": 0, "fee": 500},
]


@pytest.fixture
def sim():
    simulator = SettlementSimulator("127.0.0.1", port=0, api_key=API_KEY, page_size=2)
    simulator.start()
    yield simulator
    simulator.stop()


def create(sim, ref="PO-1", lines=LINES, **extra):
    status, body = call(sim.url, "POST", "/_sim/payouts",
                        dict(payout_ref=ref, lines=lines, **extra), token=None)
    assert status == 201, body
    return body


def test_payout_ends_with_the_transfer_to_the_bank(sim):
    payout = create(sim)
    assert payout == {"payout_ref": "PO-1", "paid_at": "2026-03-02T06:00:00+00:00",
                      "currency": "EUR", "net": 2750, "line_count": 6, "revision": 1}
    _status, body = call(sim.url, "GET", "/_sim/payouts/PO-1", token=None)
    assert body["lines"][-1]["type"] == "payout"
    assert body["lines"][-1]["net"] == -2750


def test_api_needs_the_key(sim):
    status, body = call(sim.url, "GET", "/v1/payouts?since=2026-01-01", token="wrong")
    assert status == 401
    assert body["error"]["code"] == "unauthorized"


def test_payouts_since_a_date(sim):
    create(sim, "PO-OLD", paid_at="2025-12-31T06:00:00+00:00")
    create(sim, "PO-NEW")
    status, body = call(sim.url, "GET", "/v1/payouts?since=2026-01-01")
    assert status == 200
    assert [p["payout_ref"] for p in body] == ["PO-NEW"]
    assert call(sim.url, "GET", "/v1/payouts")[0] == 400


def test_lines_are_paged_with_a_cursor(sim):
    create(sim)
    lines, cursor, pages = [], None, 0
    while True:
        path = "/v1/payouts/PO-1/lines" + (f"?cursor={cursor}" if cursor else "")
        status, body = call(sim.url, "GET", path)
        assert status == 200
        pages += 1
        lines += body["lines"]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert pages == 3
    assert [line["type"] for line in lines] == [
        "sale", "refund", "chargeback", "chargeback_reversal", "fee", "payout"]
    assert lines[0]["net"] == 9750


def test_reissue_raises_the_revision_and_stales_old_cursors(sim):
    create(sim)
    _status, page = call(sim.url, "GET", "/v1/payouts/PO-1/lines")
    status, body = call(sim.url, "POST", "/_sim/payouts/PO-1/reissue", {"lines": LINES[:2]},
                        token=None)
    assert status == 200
    assert body["revision"] == 2
    assert body["net"] == 4750
    status, body = call(sim.url, "GET", f"/v1/payouts/PO-1/lines?cursor={page['next_cursor']}")
    assert status == 409
    assert body["error"]["code"] == "payout_reissued"


def test_unknown_payout_and_bad_lines(sim):
    assert call(sim.url, "GET", "/v1/payouts/NOPE/lines")[0] == 404
    status, body = call(sim.url, "POST", "/_sim/payouts",
                        {"lines": [{"type": "sale", "gross": 10.5}]}, token=None)
    assert status == 400
    assert body["error"]["details"][0]["code"] == "not_integer"


def test_faults_apply_to_the_api(sim):
    create(sim)
    call(sim.url, "POST", "/_sim/faults", {"burst_429": 1}, token=None)
    assert call(sim.url, "GET", "/v1/payouts?since=2026-01-01")[0] == 429
    assert call(sim.url, "GET", "/v1/payouts?since=2026-01-01")[0] == 200


@pytest.mark.parametrize("layout, header", [
    ("canonical", "payout_ref"), ("adyen", "Psp Reference"),
    ("stripe", "automatic_payout_id")])
def test_files_render_the_same_payout(sim, layout, header):
    create(sim)
    status, body = call(sim.url, "GET", f"/_sim/payouts/PO-1/file?layout={layout}", token=None)
    assert status == 200
    rows = list(csv.DictReader(io.StringIO(body["content"])))
    assert header in rows[0]
    assert len(rows) == 6
    assert body["filename"] == f"{layout}-PO-1-r1.csv"


def test_adyen_amounts_are_decimal_debit_credit(sim):
    create(sim)
    _status, body = call(sim.url, "GET", "/_sim/payouts/PO-1/file?layout=adyen", token=None)
    rows = list(csv.DictReader(io.StringIO(body["content"])))
    sale, refund, payout = rows[0], rows[1], rows[-1]
    assert (sale["Gross Credit (GC)"], sale["Net Credit (NC)"]) == ("100.00", "97.50")
    assert (sale["Creation Date"], sale["TimeZone"]) == ("2026-03-01 10:00:00", "CET")
    assert refund["Gross Debit (GC)"] == "50.00"
    assert (payout["Type"], payout["Net Debit (NC)"]) == ("MerchantPayout", "27.50")


def test_command_line_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "--page-size" in capsys.readouterr().out
