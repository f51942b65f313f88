# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Tests of the loyalty simulator over real HTTP on 127.0.0.1 (no Odoo)."""

import calendar
import json
import subprocess
import sys
import threading
import time
import urllib.error

import jsonschema
import pytest
import yaml

from simulators.loyalty import LoyaltySimulator, main
from simulators.tests.test_oms_simulator import (
    API_KEY,
    ROOT,
    SECRET,
    Receiver,
    call,
    control,
    verify_signature,
)


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def loyalty(receiver):
    simulator = LoyaltySimulator(
        "127.0.0.1", 0, api_key=API_KEY, webhook_url=receiver.url, webhook_secret=SECRET
    )
    # Fast retries keep the tests quick; the production default is 0.5..8 s.
    simulator.update_config({"webhook_retry_delays": [0.01, 0.01, 0.01, 0.01, 0.01]})
    simulator.start()
    yield simulator
    simulator.stop()


def enrol(sim, email="ada@example.com", phone="+33 1 23 45 67 89", partner_ref="P1", key=None):
    headers = {"Idempotency-Key": key} if key else {}
    result = call(sim.url, "POST", "/v1/members",
                  {"partner_ref": partner_ref, "email": email, "phone": phone, "name": "Ada",
                   "consents": {"email": True, "sms": False}}, headers)
    assert result.status == 201, result.body
    return result.body["member_ref"]


def seed(sim, balance=1000, **body):
    return control(sim.url, "POST", "/_sim/members", dict(body, balance=balance))["member_ref"]


def member(sim, member_ref):
    result = call(sim.url, "GET", f"/v1/members/{member_ref}")
    assert result.status == 200, result.body
    return result.body


def earn(sim, member_ref, order_ref="S1", amount=1999, key=None, currency="EUR"):
    headers = {"Idempotency-Key": key} if key else {}
    return call(sim.url, "POST", "/v1/transactions", {
        "type": "earn", "member_ref": member_ref, "order_ref": order_ref,
        "amount": {"amount": amount, "currency": currency},
        "lines": [{"line_ref": "1", "sku": "SKU-1", "qty": 1, "amount": amount}],
    }, headers)


def reverse(sim, member_ref, txn_ref, return_ref="R1", amount=1000, currency="EUR"):
    return call(sim.url, "POST", "/v1/transactions", {
        "type": "reversal", "member_ref": member_ref, "order_ref": "S1",
        "return_ref": return_ref, "reverses_txn_ref": txn_ref,
        "amount": {"amount": amount, "currency": currency}, "lines": [],
    })


def hold(sim, member_ref, points=100, order_ref="S2", key=None):
    headers = {"Idempotency-Key": key} if key else {}
    return call(sim.url, "POST", "/v1/redemptions",
                {"member_ref": member_ref, "order_ref": order_ref, "points": points}, headers)


def events(sim, receiver):
    assert control(sim.url, "POST", "/_sim/wait_idle", {"timeout": 5}) == {"idle": True}
    return receiver.events()


def error_code(result):
    return result.status, result.body["error"]["code"]


# -- members ------------------------------------------------------------------------


def test_health(loyalty):
    result = call(loyalty.url, "GET", "/v1/health")
    assert (result.status, result.body) == (200, {"status": "ok"})


def test_enrol_answers_201_and_the_member_reads_back(loyalty):
    result = call(loyalty.url, "POST", "/v1/members",
                  {"partner_ref": "P1", "email": " Ada@Example.COM ", "phone": "+33 1 23",
                   "name": "Ada", "consents": {"email": True}},
                  {"Idempotency-Key": "member:P1", "X-Correlation-ID": "corr-1"})
    assert result.status == 201
    assert result.body == {"member_ref": "MBR-000001", "tier": "member", "balance": 0}
    view = {"member_ref": "MBR-000001", "tier": "member", "balance": 0, "pending": 0,
            "status": "active"}
    assert member(loyalty, "MBR-000001") == view
    assert call(loyalty.url, "GET", "/v1/members?email=ada@example.com").body == view
    assert call(loyalty.url, "GET", "/v1/members?phone=33123").body == view
    assert call(loyalty.url, "GET", "/v1/members?email=ADA@example.com&phone=%2B33-1-23").body \
        == view
    state = control(loyalty.url, "GET", "/_sim/state")
    assert state["totals"]["members_created"] == 1
    stored = state["members"]["MBR-000001"]
    assert (stored["partner_ref"], stored["email_normalised"], stored["phone_normalised"]) == (
        "P1", "ada@example.com", "33123")
    assert stored["consents"] == {"email": True}
    assert state["requests"][0]["correlation_id"] == "corr-1"


def test_enrolled_email_or_phone_is_409_with_the_existing_member(loyalty):
    existing = enrol(loyalty)
    by_email = call(loyalty.url, "POST", "/v1/members",
                    {"partner_ref": "P2", "email": "  ADA@example.com", "phone": "+1 555"})
    assert error_code(by_email) == (409, "member_exists")
    assert by_email.body["error"]["details"] == [{"field": "email", "member_ref": existing}]
    by_phone = call(loyalty.url, "POST", "/v1/members",
                    {"partner_ref": "P3", "email": "other@example.com",
                     "phone": "33-123-456-789"})
    assert error_code(by_phone) == (409, "member_exists")
    assert by_phone.body["error"]["details"][0] == {"field": "phone", "member_ref": existing}
    assert control(loyalty.url, "GET", "/_sim/state")["totals"]["members_created"] == 1


def test_invalid_member_bodies_are_400(loyalty):
    no_contact = call(loyalty.url, "POST", "/v1/members", {"partner_ref": "P1", "name": "Ada"})
    assert error_code(no_contact) == (400, "invalid_request")
    assert no_contact.body["error"]["details"][0]["field"] == "email"
    bad = call(loyalty.url, "POST", "/v1/members",
               {"email": "no-at-sign", "phone": "n/a", "consents": ["email"]})
    fields = {d["field"]: d["code"] for d in bad.body["error"]["details"]}
    assert fields == {"partner_ref": "required", "email": "invalid_value",
                      "phone": "invalid_value", "consents": "invalid_type"}


def test_unknown_member_is_404_member_not_found(loyalty):
    enrol(loyalty)
    for path in ("/v1/members/MBR-999999", "/v1/members?email=nobody@example.com",
                 "/v1/members?phone=999", "/v1/members/MBR-999999/transactions",
                 # both given: the member must have both
                 "/v1/members?email=ada@example.com&phone=999"):
        assert error_code(call(loyalty.url, "GET", path)) == (404, "member_not_found"), path
    assert error_code(call(loyalty.url, "GET", "/v1/members")) == (400, "invalid_request")
    assert error_code(hold(loyalty, "MBR-999999")) == (404, "member_not_found")


def test_missing_or_wrong_token_is_401(loyalty):
    assert error_code(call(loyalty.url, "GET", "/v1/health", token=None)) == (401, "unauthorized")
    result = call(loyalty.url, "POST", "/v1/members", {"partner_ref": "P", "email": "a@b.c"},
                  token="nope")
    assert error_code(result) == (401, "unauthorized")
    assert control(loyalty.url, "GET", "/_sim/state")["members"] == {}


# -- redemptions ----------------------------------------------------------------------


def test_hold_answers_value_and_expiry_and_counts_as_pending(loyalty):
    control(loyalty.url, "POST", "/_sim/config", {"point_value_minor": 2, "currency": "CHF"})
    ref = seed(loyalty, balance=1000)
    before = time.time()
    result = hold(loyalty, ref, 300, "S2")
    assert result.status == 201
    body = result.body
    expires = calendar.timegm(time.strptime(body.pop("hold_expires_at"),
                                            "%Y-%m-%dT%H:%M:%S+00:00"))
    assert body == {"redemption_ref": "RDM-000001", "member_ref": ref, "order_ref": "S2",
                    "points": 300, "value": {"amount": 600, "currency": "CHF"},
                    "status": "held"}
    assert abs(expires - (before + 900)) < 5
    assert member(loyalty, ref) == {"member_ref": ref, "tier": "member", "balance": 1000,
                                    "pending": 300, "status": "active"}


def test_default_point_value_is_one_minor_unit(loyalty):
    ref = seed(loyalty, balance=1000)
    assert hold(loyalty, ref, 100).body["value"] == {"amount": 100, "currency": "EUR"}


def test_insufficient_points_is_422_with_what_is_available(loyalty):
    ref = seed(loyalty, balance=500)
    assert hold(loyalty, ref, 400).status == 201
    refused = hold(loyalty, ref, 101)
    assert error_code(refused) == (422, "insufficient_points")
    assert refused.body["error"]["details"] == [
        {"field": "points", "code": "insufficient_points", "available": 100, "requested": 101}]
    assert hold(loyalty, ref, 100).status == 201
    assert member(loyalty, ref)["pending"] == 500


def test_concurrent_holds_never_overdraw(loyalty):
    ref = seed(loyalty, balance=500)
    results = []

    def post(index):
        results.append(hold(loyalty, ref, 100, f"S{index}").status)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [201] * 5 + [422] * 5
    assert member(loyalty, ref)["pending"] == 500


def test_confirm_spends_the_points_once(loyalty, receiver):
    ref = seed(loyalty, balance=1000, partner_ref="P1")
    redemption = hold(loyalty, ref, 300).body["redemption_ref"]
    confirmed = call(loyalty.url, "POST", f"/v1/redemptions/{redemption}/confirm",
                     headers={"X-Correlation-ID": "checkout-1"})
    assert confirmed.status == 200
    assert confirmed.body == {"redemption_ref": redemption, "status": "confirmed",
                              "txn_ref": "TXN-000002"}  # TXN-000001 is the seeded balance
    again = call(loyalty.url, "POST", f"/v1/redemptions/{redemption}/confirm")
    assert (again.status, again.body) == (200, confirmed.body)
    assert member(loyalty, ref) == {"member_ref": ref, "tier": "member", "balance": 700,
                                    "pending": 0, "status": "active"}
    ledger = call(loyalty.url, "GET", f"/v1/members/{ref}/transactions").body["transactions"]
    assert [(t["type"], t["points"], t["order_ref"], t["redemption_ref"]) for t in ledger] == [
        ("adjustment", 1000, None, None), ("redeem", -300, "S2", redemption)]
    release = call(loyalty.url, "POST", f"/v1/redemptions/{redemption}/release")
    assert error_code(release) == (409, "redemption_confirmed")
    assert release.body["error"]["details"][0]["txn_ref"] == "TXN-000002"
    received = receiver.wait_for(1)
    assert len(received) == 1
    headers, raw, _status = received[0]
    assert verify_signature(headers, raw)
    assert headers["x-correlation-id"] == "checkout-1"
    event = json.loads(raw)
    assert (event["type"], event["sequence"]) == ("member.updated", 1)
    assert event["data"] == {"member_ref": ref, "partner_ref": "P1", "tier": "member",
                             "balance": 700, "pending": 0, "status": "active"}
    totals = control(loyalty.url, "GET", "/_sim/state")["totals"]
    assert (totals["redemptions_held"], totals["redemptions_confirmed"]) == (1, 1)
    assert totals["transactions"]["redeem"] == 1


def test_a_confirmed_redemption_is_given_back_once_by_a_reversal(loyalty):
    ref = seed(loyalty, balance=1000)
    redemption = hold(loyalty, ref, 300).body["redemption_ref"]
    txn_ref = call(loyalty.url, "POST", f"/v1/redemptions/{redemption}/confirm").body["txn_ref"]
    back = reverse(loyalty, ref, txn_ref, return_ref="cancel:S2", amount=300)
    assert back.status == 201, back.body
    assert back.body["points"] == 300
    assert member(loyalty, ref)["balance"] == 1000
    again = reverse(loyalty, ref, txn_ref, return_ref="cancel:S2-bis", amount=300)
    assert error_code(again) == (409, "duplicate_transaction")
    assert member(loyalty, ref)["balance"] == 1000


def test_release_frees_the_points_and_is_repeatable(loyalty, receiver):
    ref = seed(loyalty, balance=1000)
    redemption = hold(loyalty, ref, 300).body["redemption_ref"]
    for _ in range(2):
        released = call(loyalty.url, "POST", f"/v1/redemptions/{redemption}/release")
        assert (released.status, released.body) == (
            200, {"redemption_ref": redemption, "status": "released"})
    assert member(loyalty, ref)["pending"] == 0
    refused = call(loyalty.url, "POST", f"/v1/redemptions/{redemption}/confirm")
    assert error_code(refused) == (409, "redemption_released")
    assert member(loyalty, ref)["balance"] == 1000
    missing = call(loyalty.url, "POST", "/v1/redemptions/RDM-999999/confirm")
    assert error_code(missing) == (404, "redemption_not_found")
    assert events(loyalty, receiver) == []  # holds and releases change no balance
    totals = control(loyalty.url, "GET", "/_sim/state")["totals"]
    assert (totals["redemptions_released"], totals["redemptions_expired"]) == (1, 0)


def test_confirm_after_the_hold_expired_is_409_hold_expired(loyalty):
    control(loyalty.url, "POST", "/_sim/config", {"hold_ttl_s": 0.2})
    ref = seed(loyalty, balance=1000)
    redemption = hold(loyalty, ref, 300).body["redemption_ref"]
    assert member(loyalty, ref)["pending"] == 300
    time.sleep(0.3)
    # Released lazily on the next access: pending never counts an expired hold.
    assert member(loyalty, ref)["pending"] == 0
    refused = call(loyalty.url, "POST", f"/v1/redemptions/{redemption}/confirm")
    assert error_code(refused) == (409, "hold_expired")
    assert refused.body["error"]["details"][0]["redemption_ref"] == redemption
    assert member(loyalty, ref)["balance"] == 1000
    stored = control(loyalty.url, "GET", "/_sim/state")["redemptions"][redemption]
    assert (stored["status"], stored["release_reason"]) == ("released", "expired")
    # Releasing an expired hold is fine: it is released already.
    assert call(loyalty.url, "POST", f"/v1/redemptions/{redemption}/release").status == 200


def test_expire_trigger_ends_a_hold_now(loyalty):
    ref = seed(loyalty, balance=1000)
    redemption = hold(loyalty, ref, 300).body["redemption_ref"]
    expired = control(loyalty.url, "POST", f"/_sim/redemptions/{redemption}/expire")
    assert (expired["status"], expired["release_reason"]) == ("released", "expired")
    assert member(loyalty, ref)["pending"] == 0
    assert error_code(call(loyalty.url, "POST", f"/v1/redemptions/{redemption}/confirm")) == (
        409, "hold_expired")
    again = call(loyalty.url, "POST", f"/_sim/redemptions/{redemption}/expire", token=None)
    assert error_code(again) == (409, "redemption_not_held")
    totals = control(loyalty.url, "GET", "/_sim/state")["totals"]
    assert (totals["redemptions_expired"], totals["redemptions_released"]) == (1, 0)
    listed = control(loyalty.url, "GET", "/_sim/redemptions?status=released")["redemptions"]
    assert [r["redemption_ref"] for r in listed] == [redemption]


def test_idempotent_replay_of_a_hold_holds_once(loyalty):
    ref = seed(loyalty, balance=1000)
    first = hold(loyalty, ref, 300, key="redeem:S2")
    again = hold(loyalty, ref, 300, key="redeem:S2")
    assert (again.status, again.body) == (first.status, first.body)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert member(loyalty, ref)["pending"] == 300
    conflict = hold(loyalty, ref, 200, key="redeem:S2")
    assert error_code(conflict) == (409, "idempotency_conflict")
    state = control(loyalty.url, "GET", "/_sim/state")
    assert state["totals"]["redemptions_held"] == 1
    holds = [r for r in state["requests"] if r["endpoint"] == "POST /v1/redemptions"]
    assert [(r["status"], r["replayed"]) for r in holds] == [
        (201, False), (201, True), (409, False)]


# -- transactions --------------------------------------------------------------------


def test_earn_points_follow_rate_and_tier_multiplier(loyalty):
    ref = enrol(loyalty)
    # 19.99 EUR at 1 point per EUR: floor(19.99) = 19
    assert earn(loyalty, ref, "S1", 1999).body == {"txn_ref": "TXN-000001", "points": 19,
                                                    "status": "posted"}
    control(loyalty.url, "POST", f"/_sim/members/{ref}/tier", {"tier": "silver"})
    assert earn(loyalty, ref, "S2", 1999).body["points"] == 24  # floor(24.9875)
    control(loyalty.url, "POST", f"/_sim/members/{ref}/tier", {"tier": "gold"})
    assert earn(loyalty, ref, "S3", 1999).body["points"] == 29  # floor(29.985)
    control(loyalty.url, "POST", "/_sim/config", {"earn_rate": 2.5})
    assert earn(loyalty, ref, "S4", 1000).body["points"] == 37  # floor(10 * 2.5 * 1.5)
    # No float drift: 0.7 x 1.0 x 100 would floor to 69 in binary floating point.
    control(loyalty.url, "POST", "/_sim/config", {"earn_rate": 0.7})
    control(loyalty.url, "POST", f"/_sim/members/{ref}/tier", {"tier": "member"})
    assert earn(loyalty, ref, "S5", 10000).body["points"] == 70
    assert member(loyalty, ref)["balance"] == 19 + 24 + 29 + 37 + 70


def test_second_earn_for_an_order_is_409_duplicate_transaction(loyalty):
    ref = enrol(loyalty)
    first = earn(loyalty, ref, "S1", 5000, key="earn:S1")
    replay = earn(loyalty, ref, "S1", 5000, key="earn:S1")
    assert (replay.status, replay.body) == (201, first.body)
    duplicate = earn(loyalty, ref, "S1", 5000, key="earn:S1:again")
    assert error_code(duplicate) == (409, "duplicate_transaction")
    assert duplicate.body["error"]["details"] == [
        {"field": "order_ref", "order_ref": "S1", "txn_ref": first.body["txn_ref"]}]
    assert member(loyalty, ref)["balance"] == 50
    # Another member may earn on the same order_ref.
    other = enrol(loyalty, "bob@example.com", "+44 20", "P2")
    assert earn(loyalty, other, "S1", 5000).status == 201


def test_invalid_transactions(loyalty):
    ref = enrol(loyalty)
    floats = call(loyalty.url, "POST", "/v1/transactions",
                  {"type": "earn", "member_ref": ref, "order_ref": "S1",
                   "amount": {"amount": 19.99, "currency": "EUR"}})
    assert error_code(floats) == (400, "invalid_request")
    assert floats.body["error"]["details"][0] == {
        "field": "amount.amount", "code": "not_integer",
        "message": "amounts are integer minor units, never floats"}
    kind = call(loyalty.url, "POST", "/v1/transactions",
                {"type": "bonus", "member_ref": ref, "amount": {"amount": 1, "currency": "EUR"}})
    assert kind.body["error"]["details"][0]["field"] == "type"
    reversal = call(loyalty.url, "POST", "/v1/transactions",
                    {"type": "reversal", "member_ref": ref,
                     "amount": {"amount": 1, "currency": "EUR"}})
    fields = {d["field"] for d in reversal.body["error"]["details"]}
    assert fields == {"return_ref", "reverses_txn_ref"}
    currency = earn(loyalty, ref, "S1", 1000, currency="USD")
    assert error_code(currency) == (422, "currency_mismatch")
    assert error_code(earn(loyalty, "MBR-999999")) == (404, "member_not_found")
    assert control(loyalty.url, "GET", "/_sim/state")["transactions"] == []


def test_reversal_is_proportional_and_capped(loyalty):
    ref = enrol(loyalty)
    original = earn(loyalty, ref, "S1", 10000).body  # 100 points
    assert original["points"] == 100
    # 100 x 3333 / 10000 = 33.33 -> 33; 100 x 3350 / 10000 = 33.5 -> 34 (half up)
    assert reverse(loyalty, ref, original["txn_ref"], "R1", 3333).body["points"] == -33
    assert reverse(loyalty, ref, original["txn_ref"], "R2", 3350).body["points"] == -34
    # 40 would be due, 33 are left: the total never exceeds the earn.
    capped = reverse(loyalty, ref, original["txn_ref"], "R3", 4000)
    assert (capped.status, capped.body["points"]) == (201, -33)
    nothing_left = reverse(loyalty, ref, original["txn_ref"], "R4", 500)
    assert (nothing_left.status, nothing_left.body["points"]) == (201, 0)
    assert member(loyalty, ref)["balance"] == 0
    ledger = call(loyalty.url, "GET", f"/v1/members/{ref}/transactions").body["transactions"]
    assert [(t["type"], t["points"], t["return_ref"], t["reverses_txn_ref"]) for t in ledger] == [
        ("earn", 100, None, None),
        ("reversal", -33, "R1", original["txn_ref"]),
        ("reversal", -34, "R2", original["txn_ref"]),
        ("reversal", -33, "R3", original["txn_ref"]),
        ("reversal", 0, "R4", original["txn_ref"]),
    ]
    stored = control(loyalty.url, "GET", "/_sim/state")["transactions"]
    assert stored[3]["uncapped_points"] == -40


def test_duplicate_and_invalid_reversals(loyalty):
    ref = enrol(loyalty)
    other = enrol(loyalty, "bob@example.com", "+44 20", "P2")
    original = earn(loyalty, ref, "S1", 10000).body["txn_ref"]
    foreign = earn(loyalty, other, "S9", 10000).body["txn_ref"]
    first = reverse(loyalty, ref, original, "R1", 1000)
    assert first.status == 201
    duplicate = reverse(loyalty, ref, original, "R1", 1000)
    assert error_code(duplicate) == (409, "duplicate_transaction")
    assert duplicate.body["error"]["details"] == [
        {"field": "return_ref", "return_ref": "R1", "txn_ref": first.body["txn_ref"]}]
    for target in ("TXN-999999", foreign, first.body["txn_ref"]):
        refused = reverse(loyalty, ref, target, "R2", 1000)
        assert error_code(refused) == (422, "invalid_reversal"), target
        assert refused.body["error"]["details"][0]["field"] == "reverses_txn_ref"
    assert error_code(reverse(loyalty, ref, original, "R3", 10, currency="USD")) == (
        422, "currency_mismatch")
    assert member(loyalty, ref)["balance"] == 90


def test_only_a_reversal_takes_the_balance_below_zero(loyalty):
    ref = enrol(loyalty)
    original = earn(loyalty, ref, "S1", 50000).body["txn_ref"]  # 500 points
    redemption = hold(loyalty, ref, 500).body["redemption_ref"]
    call(loyalty.url, "POST", f"/v1/redemptions/{redemption}/confirm")
    assert reverse(loyalty, ref, original, "R1", 50000).body["points"] == -500
    assert member(loyalty, ref)["balance"] == -500
    assert error_code(hold(loyalty, ref, 1)) == (422, "insufficient_points")
    refused = call(loyalty.url, "POST", f"/_sim/members/{ref}/adjust", {"points": -1},
                   token=None)
    assert error_code(refused) == (422, "insufficient_points")


def test_transactions_since_filters_the_ledger(loyalty):
    ref = enrol(loyalty)
    earn(loyalty, ref, "S1", 1000)
    control(loyalty.url, "POST", f"/_sim/members/{ref}/adjust", {"points": 5, "reason": "gift"})
    path = f"/v1/members/{ref}/transactions"
    listing = call(loyalty.url, "GET", path + "?since=2020-01-01").body
    assert listing["member_ref"] == ref
    assert listing["balance"] == 15
    assert [(t["type"], t["points"], t["reason"]) for t in listing["transactions"]] == [
        ("earn", 10, None), ("adjustment", 5, "gift")]
    assert set(listing["transactions"][0]) == {
        "txn_ref", "type", "points", "order_ref", "return_ref", "reverses_txn_ref",
        "redemption_ref", "reason", "created_at"}
    created = listing["transactions"][0]["created_at"]
    assert created.endswith("+00:00")
    assert len(call(loyalty.url, "GET", f"{path}?since={created.replace('+', '%2B')}")
               .body["transactions"]) == 2
    for future in ("2999-01-01", "2999-01-01T00:00:00Z", "2999-01-01T01:00:00%2B01:00"):
        assert call(loyalty.url, "GET", f"{path}?since={future}").body["transactions"] == []
    bad = call(loyalty.url, "GET", f"{path}?since=yesterday")
    assert error_code(bad) == (400, "invalid_request")
    assert bad.body["error"]["details"][0]["field"] == "since"


# -- events, tiers and /_sim/ triggers -------------------------------------------------------


def test_crossing_a_threshold_emits_tier_changed_then_updated(loyalty, receiver):
    ref = enrol(loyalty)
    earn(loyalty, ref, "S1", 90000)  # 900 points: still member
    assert earn(loyalty, ref, "S2", 20000).body["points"] == 200  # 1,100 lifetime: silver
    assert earn(loyalty, ref, "S3", 10000).body["points"] == 125  # silver multiplier 1.25
    received = events(loyalty, receiver)
    assert [(e["type"], e["sequence"]) for e in received] == [
        ("member.updated", 1), ("member.tier_changed", 2), ("member.updated", 3),
        ("member.updated", 4)]
    assert received[1]["data"] == {"member_ref": ref, "old_tier": "member", "tier": "silver",
                                   "balance": 1100}
    assert received[2]["data"]["tier"] == "silver"
    assert all(verify_signature(h, b) for h, b, _s in receiver.received)
    assert member(loyalty, ref)["tier"] == "silver"


def test_tiers_follow_configured_thresholds_and_never_drop_by_themselves(loyalty, receiver):
    control(loyalty.url, "POST", "/_sim/config",
            {"tier_thresholds": {"basic": 0, "vip": 100}, "tier_multipliers": {"vip": 2}})
    ref = seed(loyalty, balance=0, tier="basic")
    txn = earn(loyalty, ref, "S1", 15000).body
    assert member(loyalty, ref)["tier"] == "vip"
    assert earn(loyalty, ref, "S2", 1000).body["points"] == 20
    reverse(loyalty, ref, txn["txn_ref"], "R1", 15000)
    assert member(loyalty, ref)["tier"] == "vip"
    types = [e["type"] for e in events(loyalty, receiver)]
    assert types.count("member.tier_changed") == 1


def test_forced_tier_emits_tier_changed_only_on_change(loyalty, receiver):
    ref = seed(loyalty, balance=10)
    answer = control(loyalty.url, "POST", f"/_sim/members/{ref}/tier", {"tier": "gold"})
    assert answer["member"]["tier"] == "gold"
    assert [e["type"] for e in answer["events"]] == ["member.tier_changed"]
    same = control(loyalty.url, "POST", f"/_sim/members/{ref}/tier", {"tier": "gold"})
    assert same["events"] == []
    bad = call(loyalty.url, "POST", f"/_sim/members/{ref}/tier", {"tier": "platinum"},
               token=None)
    assert bad.status == 400
    received = events(loyalty, receiver)
    assert [(e["type"], e["data"]) for e in received] == [
        ("member.tier_changed", {"member_ref": ref, "old_tier": "member", "tier": "gold",
                                 "balance": 10})]


def test_adjustment_posts_a_ledger_line_and_updates(loyalty, receiver):
    ref = seed(loyalty, balance=100, partner_ref="P7")
    answer = control(loyalty.url, "POST", f"/_sim/members/{ref}/adjust",
                     {"points": -30, "reason": "goodwill correction"})
    assert answer["member"]["balance"] == 70
    assert [e["type"] for e in answer["events"]] == ["member.updated"]
    ledger = call(loyalty.url, "GET", f"/v1/members/{ref}/transactions").body
    assert ledger["transactions"][-1]["txn_ref"] == answer["txn_ref"]
    assert (ledger["transactions"][-1]["type"], ledger["transactions"][-1]["points"]) == (
        "adjustment", -30)
    assert sum(t["points"] for t in ledger["transactions"]) == ledger["balance"] == 70
    zero = call(loyalty.url, "POST", f"/_sim/members/{ref}/adjust", {"points": 0}, token=None)
    assert zero.status == 400
    data = events(loyalty, receiver)[0]["data"]
    assert data == {"member_ref": ref, "partner_ref": "P7", "tier": "member", "balance": 70,
                    "pending": 0, "status": "active"}


def test_points_expiry_emits_expired_then_updated(loyalty, receiver):
    ref = seed(loyalty, balance=1000)
    hold(loyalty, ref, 100)
    too_many = call(loyalty.url, "POST", f"/_sim/members/{ref}/expire", {"points": 901},
                    token=None)
    assert error_code(too_many) == (422, "insufficient_points")
    answer = control(loyalty.url, "POST", f"/_sim/members/{ref}/expire", {"points": 250})
    assert answer["member"] == {"member_ref": ref, "tier": "member", "balance": 750,
                                "pending": 100, "status": "active"}
    rest = control(loyalty.url, "POST", f"/_sim/members/{ref}/expire", {})
    assert rest["member"]["balance"] == 100  # the held points stay
    nothing = call(loyalty.url, "POST", f"/_sim/members/{ref}/expire", {}, token=None)
    assert error_code(nothing) == (409, "nothing_to_expire")
    received = events(loyalty, receiver)
    assert [(e["type"], e["sequence"]) for e in received] == [
        ("points.expired", 1), ("member.updated", 2), ("points.expired", 3),
        ("member.updated", 4)]
    assert received[0]["data"] == {"member_ref": ref, "points": 250, "balance": 750}
    ledger = call(loyalty.url, "GET", f"/v1/members/{ref}/transactions").body["transactions"]
    assert [(t["type"], t["points"]) for t in ledger] == [
        ("adjustment", 1000), ("expiry", -250), ("expiry", -650)]
    assert control(loyalty.url, "GET", "/_sim/state")["totals"]["transactions"]["expiry"] == 2


def test_seeded_members_and_their_conflicts(loyalty, receiver):
    answer = control(loyalty.url, "POST", "/_sim/members",
                     {"email": "Seed@Example.com", "phone": "0123", "name": "Seed",
                      "balance": 2500, "tier": "silver"})
    assert answer == {"member_ref": "MBR-000001", "tier": "silver", "balance": 2500,
                      "pending": 0, "status": "active", "partner_ref": None}
    explicit = control(loyalty.url, "POST", "/_sim/members", {"member_ref": "LEGACY-1"})
    assert explicit["member_ref"] == "LEGACY-1"
    # Odoo enrolling the same customer finds the seeded member.
    result = call(loyalty.url, "POST", "/v1/members",
                  {"partner_ref": "P1", "email": "seed@example.com"})
    assert result.body["error"]["details"][0]["member_ref"] == "MBR-000001"
    again = call(loyalty.url, "POST", "/_sim/members", {"member_ref": "LEGACY-1"}, token=None)
    assert error_code(again) == (409, "member_exists")
    full = control(loyalty.url, "GET", "/_sim/members/MBR-000001")
    assert [(t["type"], t["reason"]) for t in full["transactions"]] == [("adjustment", "seed")]
    assert len(control(loyalty.url, "GET", "/_sim/members")["members"]) == 2
    assert events(loyalty, receiver) == []  # seeding is set-up, not news


def test_raw_events_and_repeat(loyalty, receiver):
    control(loyalty.url, "POST", "/_sim/events",
            {"type": "member.updated", "member_ref": "MBR-1", "sequence": 4, "data": {}})
    control(loyalty.url, "POST", "/_sim/events", {"repeat": True})
    control(loyalty.url, "POST", "/_sim/events", {"type": "points.expired", "member_ref": "MBR-1"})
    received = receiver.wait_for(3)
    assert [json.loads(b)["sequence"] for _h, b, _s in received] == [4, 4, 5]
    assert received[0][0]["webhook-id"] == received[1][0]["webhook-id"]
    assert json.loads(received[0][1])["data"] == {"member_ref": "MBR-1"}


def test_duplicate_webhook_delivery(loyalty, receiver):
    ref = seed(loyalty, balance=10)
    control(loyalty.url, "POST", "/_sim/faults", {"duplicate_rate": 1.0})
    control(loyalty.url, "POST", f"/_sim/members/{ref}/adjust", {"points": 1})
    (h1, b1, _), (h2, b2, _) = receiver.wait_for(2)
    assert (h1["webhook-id"], b1) == (h2["webhook-id"], b2)


# -- faults, statistics ------------------------------------------------------------------------


def test_platform_down_answers_503_and_applies_nothing(loyalty):
    ref = seed(loyalty, balance=1000)
    control(loyalty.url, "POST", "/_sim/faults", {"error_rate": 1.0, "error_status": 503})
    assert error_code(call(loyalty.url, "GET", "/v1/health")) == (503, "service_unavailable")
    down = hold(loyalty, ref, 100, key="redeem:S2")
    assert error_code(down) == (503, "service_unavailable")
    control(loyalty.url, "POST", "/_sim/faults", {"error_rate": 0.0})
    assert member(loyalty, ref)["pending"] == 0
    # The retry under the same key is applied now (a 5xx is never remembered).
    assert hold(loyalty, ref, 100, key="redeem:S2").status == 201
    state = control(loyalty.url, "GET", "/_sim/state")
    assert state["status_counters"]["503"] == 2
    assert state["requests"][1]["fault"] == "error_rate"


def test_timeout_applies_the_hold_then_the_retry_replays(loyalty):
    ref = seed(loyalty, balance=1000)
    control(loyalty.url, "POST", "/_sim/faults", {"timeout_rate": 1.0, "timeout_sleep_s": 0.5})
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        call(loyalty.url, "POST", "/v1/redemptions",
             {"member_ref": ref, "order_ref": "S2", "points": 100},
             {"Idempotency-Key": "redeem:S2"}, timeout=0.1)
    control(loyalty.url, "POST", "/_sim/faults", {"timeout_rate": 0.0})
    retried = hold(loyalty, ref, 100, key="redeem:S2")
    assert retried.status == 201
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert member(loyalty, ref)["pending"] == 100


def test_burst_429_carries_retry_after(loyalty):
    control(loyalty.url, "POST", "/_sim/faults", {"burst_429": 1, "retry_after_s": 3})
    limited = call(loyalty.url, "GET", "/v1/health")
    assert error_code(limited) == (429, "rate_limited")
    assert limited.headers["Retry-After"] == "3"
    assert call(loyalty.url, "GET", "/v1/health").status == 200


def test_stats_give_the_handling_time_of_holds(loyalty):
    ref = seed(loyalty, balance=10000)
    for index in range(5):
        assert hold(loyalty, ref, 10, f"S{index}").status == 201
    hold(loyalty, ref, 100000)  # a 422: not counted
    stats = control(loyalty.url, "GET", "/_sim/stats")["redemptions"]
    assert (stats["count"], stats["excluded"]) == (5, 1)
    assert 0 <= stats["p50_ms"] <= stats["p95_ms"] <= stats["max_ms"]
    control(loyalty.url, "POST", "/_sim/faults", {"latency_ms": 50})
    hold(loyalty, ref, 10, "S9")
    stats = control(loyalty.url, "GET", "/_sim/state")["stats"]
    assert stats["redemptions"]["max_ms"] >= 50
    assert stats["endpoints"]["POST /v1/redemptions"] == stats["redemptions"]
    durations = [r["duration_ms"] for r in control(loyalty.url, "GET", "/_sim/requests")["requests"]]
    assert all(isinstance(d, float) for d in durations)


# -- configuration, reset, state file, CLI -----------------------------------------------------


def test_config_shows_and_validates_the_loyalty_settings(loyalty):
    config = control(loyalty.url, "GET", "/_sim/config")
    assert {k: config[k] for k in ("point_value_minor", "currency", "hold_ttl_s", "earn_rate",
                                   "tier_thresholds", "tier_multipliers")} == {
        "point_value_minor": 1, "currency": "EUR", "hold_ttl_s": 900, "earn_rate": 1,
        "tier_thresholds": {"member": 0, "silver": 1000, "gold": 5000},
        "tier_multipliers": {"member": 1.0, "silver": 1.25, "gold": 1.5}}
    for change in ({"point_value_minor": 0}, {"currency": "eur"}, {"hold_ttl_s": 0},
                   {"earn_rate": -1}, {"tier_thresholds": {"silver": 10}},
                   {"tier_multipliers": {"gold": "x"}}):
        # A valid setting beside the invalid one: all or nothing.
        result = call(loyalty.url, "POST", "/_sim/config", dict(change, webhook_timeout=9),
                      token=None)
        assert result.status == 400, change
    assert control(loyalty.url, "GET", "/_sim/config")["webhook_timeout"] == 5
    with pytest.raises(ValueError):
        LoyaltySimulator(currency="euro")


def test_reset_clears_members_ledger_and_counters(loyalty):
    ref = seed(loyalty, balance=100)
    hold(loyalty, ref, 10, key="k1")
    assert control(loyalty.url, "POST", "/_sim/reset") == {"reset": True}
    state = control(loyalty.url, "GET", "/_sim/state")
    assert (state["members"], state["redemptions"], state["transactions"]) == ({}, {}, [])
    assert state["totals"]["redemptions_held"] == 0
    assert state["idempotency_keys"] == 0
    assert seed(loyalty) == "MBR-000001"


def test_state_file_survives_a_restart(tmp_path):
    path = str(tmp_path / "loyalty.json")
    with LoyaltySimulator(api_key=API_KEY, state_file=path) as first:
        ref = enrol(first)
        txn = earn(first, ref, "S1", 200000, key="earn:S1").body  # 2,000 points: silver
        redemption = hold(first, ref, 300, key="redeem:S2").body["redemption_ref"]
        reverse(first, ref, txn["txn_ref"], "R1", 1000)
    with LoyaltySimulator(api_key=API_KEY, state_file=path) as second:
        assert member(second, ref) == {"member_ref": ref, "tier": "silver", "balance": 1990,
                                       "pending": 300, "status": "active"}
        replay = earn(second, ref, "S1", 200000, key="earn:S1")
        assert replay.headers["Idempotent-Replayed"] == "true"
        # Indexes are rebuilt: duplicates and e-mails are still known.
        assert error_code(earn(second, ref, "S1", 200000)) == (409, "duplicate_transaction")
        assert error_code(reverse(second, ref, txn["txn_ref"], "R1", 1000)) == (
            409, "duplicate_transaction")
        assert call(second.url, "GET", "/v1/members?email=ada@example.com").status == 200
        confirmed = call(second.url, "POST", f"/v1/redemptions/{redemption}/confirm")
        assert confirmed.body["txn_ref"] == "TXN-000003"
        state = control(second.url, "GET", "/_sim/state")
        assert state["totals"]["transactions"] == {"earn": 1, "reversal": 1, "redeem": 1,
                                                   "adjustment": 0, "expiry": 0}
        assert state["totals"]["members_created"] == 1


def test_non_loopback_host_is_refused():
    with pytest.raises(ValueError):
        LoyaltySimulator("0.0.0.0")
    with pytest.raises(SystemExit) as exit_info:
        main(["--host", "0.0.0.0", "--port", "0"])
    assert exit_info.value.code == 2


@pytest.mark.parametrize("command", [["simulators.loyalty"], ["simulators", "loyalty"]])
def test_cli_prints_the_listening_line(command):
    process = subprocess.Popen(
        [sys.executable, "-m", *command, "--port", "0", "--api-key", API_KEY,
         "--point-value-minor", "5", "--hold-ttl", "60"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("Loyalty simulator listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1]
        assert call(url, "GET", "/v1/health").body == {"status": "ok"}
        config = control(url, "GET", "/_sim/config")
        assert (config["point_value_minor"], config["hold_ttl_s"]) == (5, 60)
    finally:
        process.terminate()
        assert process.wait(timeout=5) == 0
        process.stdout.close()
        process.stderr.close()


# -- the published OpenAPI description --------------------------------------------------------


SPEC_PATH = "retail_loyalty_connector/api/openapi.yaml"


def _spec_validator():
    with open(f"{ROOT}/{SPEC_PATH}", encoding="utf-8") as handle:
        spec = yaml.safe_load(handle)
    base = jsonschema.Draft202012Validator
    # The contract refuses 2.0 where an integer is due; JSON Schema would not.
    strict = base.TYPE_CHECKER.redefine(
        "integer", lambda _checker, v: isinstance(v, int) and not isinstance(v, bool))
    validator_class = jsonschema.validators.extend(base, type_checker=strict)

    def errors(name, value):
        schema = {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
        return [f"{name} {list(e.absolute_path)}: {e.message}"
                for e in validator_class(schema).iter_errors(value)]

    return spec, errors


def test_openapi_documents_every_route_and_event_of_the_simulator(loyalty):
    spec, _errors = _spec_validator()
    routes = {(route.method.lower(), route.template)
              for route in loyalty._routes if route.kind == "api"}
    documented = {(method, path) for path, item in spec["paths"].items() for method in item}
    assert routes == documented
    extension = spec["paths"]["/v1/members/{member_ref}/transactions"]["get"]
    assert extension["x-contract-extension"] is True
    assert set(spec["webhooks"]) == {"member.updated", "member.tier_changed", "points.expired"}


def test_simulator_requests_answers_and_events_match_the_openapi_schemas(loyalty, receiver):
    _spec, errors = _spec_validator()
    problems = []

    def check(name, value):
        problems.extend(errors(name, value))

    enrolment = {"partner_ref": "P1", "email": "ada@example.com", "phone": "+33 1 23",
                 "name": "Ada", "consents": {"email": True}}
    check("MemberEnrolment", enrolment)
    created = call(loyalty.url, "POST", "/v1/members", enrolment)
    check("MemberEnrolled", created.body)
    ref = created.body["member_ref"]
    exists = call(loyalty.url, "POST", "/v1/members", dict(enrolment, partner_ref="P2"))
    check("Error", exists.body)
    for detail in exists.body["error"]["details"]:
        check("MemberExistsDetail", detail)
    earn_body = {"type": "earn", "member_ref": ref, "order_ref": "S1",
                 "amount": {"amount": 200000, "currency": "EUR"},
                 "lines": [{"line_ref": "1", "sku": "A", "qty": 1, "amount": 200000}]}
    check("TransactionRequest", earn_body)
    earned = call(loyalty.url, "POST", "/v1/transactions", earn_body)
    check("TransactionPosted", earned.body)
    duplicate = call(loyalty.url, "POST", "/v1/transactions", earn_body)
    check("DuplicateTransactionDetail", duplicate.body["error"]["details"][0])
    reversal_body = {"type": "reversal", "member_ref": ref, "order_ref": "S1",
                     "return_ref": "R1", "reverses_txn_ref": earned.body["txn_ref"],
                     "amount": {"amount": 1000, "currency": "EUR"}, "lines": []}
    check("TransactionRequest", reversal_body)
    check("TransactionPosted", call(loyalty.url, "POST", "/v1/transactions", reversal_body).body)
    check("Member", member(loyalty, ref))
    check("Member", call(loyalty.url, "GET", "/v1/members?email=ada@example.com").body)
    redemption_body = {"member_ref": ref, "order_ref": "S2", "points": 300}
    check("RedemptionRequest", redemption_body)
    held = call(loyalty.url, "POST", "/v1/redemptions", redemption_body)
    check("RedemptionHeld", held.body)
    short = hold(loyalty, ref, 1000000)
    check("InsufficientPointsDetail", short.body["error"]["details"][0])
    redemption = held.body["redemption_ref"]
    check("RedemptionConfirmed",
          call(loyalty.url, "POST", f"/v1/redemptions/{redemption}/confirm").body)
    second = hold(loyalty, ref, 10, "S3").body["redemption_ref"]
    check("RedemptionReleased",
          call(loyalty.url, "POST", f"/v1/redemptions/{second}/release").body)
    control(loyalty.url, "POST", f"/_sim/members/{ref}/adjust", {"points": 7})
    control(loyalty.url, "POST", f"/_sim/members/{ref}/expire", {"points": 5})
    check("Ledger", call(loyalty.url, "GET", f"/v1/members/{ref}/transactions?since=2020-01-01")
          .body)
    check("Health", call(loyalty.url, "GET", "/v1/health").body)
    schemas = {"member.updated": "MemberUpdatedEvent",
               "member.tier_changed": "MemberTierChangedEvent",
               "points.expired": "PointsExpiredEvent"}
    received = events(loyalty, receiver)
    assert {event["type"] for event in received} == set(schemas)
    for event in received:
        check(schemas[event["type"]], event)
    # The schemas are not toothless: a float amount and a missing field fail.
    assert errors("EarnRequest", dict(earn_body, amount={"amount": 19.99, "currency": "EUR"}))
    assert errors("Member", {"member_ref": ref})
    assert problems == []
