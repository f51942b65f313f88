# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Loyalty simulator: the partner side of the ``loyalty`` contract (CONTRACTS.md).

Odoo calls ``/v1/`` (members, redemptions, transactions, health); tests drive
the platform side through ``/_sim/`` triggers (adjustments, forced tiers,
points expiry, hold expiry, seeded members) that emit signed webhooks
(``member.updated``, ``member.tier_changed``, ``points.expired``) back to Odoo.

Rules specific to this simulator, on top of the contract:

* **contract extension**: ``GET /v1/members/{member_ref}/transactions?since=``
  lists a member's ledger (earn, reversal, redeem, adjustment, expiry) for the
  suite's nightly ledger compare; it is not in CONTRACTS.md;
* an e-mail is compared lower-cased and stripped, a phone by its digits only
  (``+33 1 23`` and ``33123`` are the same phone, ``0123`` is another);
* a redemption *holds* points (``pending``) until it is confirmed (the points
  are spent: a ``redeem`` transaction), released, or its hold expires; expired
  holds are released lazily, before any request is handled, so ``pending``
  never counts them.  A live hold is a promise: confirming it succeeds even if
  a reversal took the balance below what is held since;
* earn points are ``floor(amount / 100 * earn_rate * tier multiplier)``
  (exact rational arithmetic, no float rounding); a reversal takes back
  ``round_half_up(earned * amount / earned amount)`` points, capped so that
  the reversals of one earn never take back more than it gave;
* the balance goes below zero **only through a reversal** (as on real
  platforms: the points of a returned order may already be spent); a
  redemption, a negative adjustment or an expiry larger than the available
  points (balance - pending) is refused with ``insufficient_points``;
* tiers follow lifetime points (earns minus their reversals; adjustments and
  seeded balances do not count) and only move up by themselves; a tier forced
  through ``/_sim/`` may move down, and the next earn that crosses a higher
  threshold moves it up again;
* ``member.updated`` follows every change of the balance (earn, reversal,
  confirmed redemption, adjustment, expiry); holding or releasing points is
  Odoo's own doing and emits nothing.  An earn that crosses a tier threshold
  emits ``member.tier_changed`` then ``member.updated``.
"""

import datetime
from fractions import Fraction
import heapq
import math
import re
import sys
import time
import uuid

from .common import (
    DEFAULT_HOST,
    ApiError,
    Checker,
    SimulatorServer,
    WebhookEvent,
    bad_request,
    build_arg_parser,
    is_int,
    not_found,
    serve_until_signal,
    utc_now_iso,
)

DEFAULT_PORT = 8072
EVENT_LOG_SIZE = 10000
EVENT_STATE_SIZE = 1000
DEFAULT_TIER_THRESHOLDS = {"member": 0, "silver": 1000, "gold": 5000}
DEFAULT_TIER_MULTIPLIERS = {"member": 1.0, "silver": 1.25, "gold": 1.5}
TRANSACTION_TYPES = ("earn", "reversal", "redeem", "adjustment", "expiry")
REDEMPTION_ENDPOINT = "POST /v1/redemptions"
LOYALTY_CONFIG_KEYS = ("point_value_minor", "currency", "hold_ttl_s", "earn_rate",
                       "tier_thresholds", "tier_multipliers")


def normalise_email(value):
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


def normalise_phone(value):
    digits = re.sub(r"\D", "", value) if isinstance(value, str) else ""
    return digits or None


def iso_at(timestamp):
    """ISO 8601 (+00:00, seconds) of a Unix timestamp."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(timestamp))


def parse_since(value):
    """``since`` as an aware datetime: a date (midnight UTC) or a date-time.

    A date-time without an offset is taken as UTC.
    """
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        day = datetime.date.fromisoformat(text)
        return datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.timezone.utc)
    moment = datetime.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment


def round_half_up(value):
    """Nearest integer of a non-negative :class:`Fraction`, halves up."""
    return math.floor(value + Fraction(1, 2))


def percentile(values, pct):
    """Nearest-rank percentile of sorted ``values`` (``None`` when empty)."""
    if not values:
        return None
    rank = max(1, math.ceil(pct / 100 * len(values)))
    return values[rank - 1]


def _member_not_found(member_ref, field="member_ref"):
    return not_found(f"unknown member {member_ref!r}",
                     [{"field": field, "member_ref": member_ref}],
                     code="member_not_found")


def _insufficient(available, requested, field="points"):
    return ApiError(422, "insufficient_points",
                    f"{requested} points requested, {available} available",
                    [{"field": field, "code": "insufficient_points",
                      "available": available, "requested": requested}])


class LoyaltySimulator(SimulatorServer):
    """In-memory loyalty platform.  ``LoyaltySimulator(port=0, ...).start()`` then ``.url``."""

    name = "loyalty"
    display_name = "Loyalty"
    config_keys = (*SimulatorServer.config_keys, *LOYALTY_CONFIG_KEYS)

    def __init__(self, host=DEFAULT_HOST, port=0, *, point_value_minor=1, currency="EUR",
                 hold_ttl_s=900, earn_rate=1, tier_thresholds=None, tier_multipliers=None,
                 **kwargs):
        settings = {
            "point_value_minor": point_value_minor,
            "currency": currency,
            "hold_ttl_s": hold_ttl_s,
            "earn_rate": earn_rate,
            "tier_thresholds": dict(tier_thresholds or DEFAULT_TIER_THRESHOLDS),
            "tier_multipliers": dict(tier_multipliers or DEFAULT_TIER_MULTIPLIERS),
        }
        for name, value in settings.items():
            self.validate_config(name, value)
            setattr(self, name, value)
        super().__init__(host, port, **kwargs)

    # ------------------------------------------------------------------
    # State
    # ------------------------------------------------------------------

    def reset_state(self):
        with self.lock:
            self.members = {}
            self.redemptions = {}
            self.transactions = {}  # txn_ref -> transaction, in posting order
            self.totals = self._empty_totals()
            self.sequences = {}  # member_ref -> last sequence emitted
            self.numbers = {"member": 0, "redemption": 0, "txn": 0}
            self.events = {}  # event id -> WebhookEvent (insertion ordered)
            self.last_event = None
            self._reindex()

    @staticmethod
    def _empty_totals():
        return {
            "members_created": 0,
            "redemptions_held": 0,
            "redemptions_confirmed": 0,
            "redemptions_released": 0,
            "redemptions_expired": 0,
            "transactions": dict.fromkeys(TRANSACTION_TYPES, 0),
        }

    def _reindex(self):
        """Rebuild the look-up indexes from the stored objects."""
        self._by_email = {}
        self._by_phone = {}
        for member in self.members.values():
            if member["email_normalised"]:
                self._by_email[member["email_normalised"]] = member["member_ref"]
            if member["phone_normalised"]:
                self._by_phone[member["phone_normalised"]] = member["member_ref"]
        self._earns = {}  # (member_ref, order_ref) -> earn txn_ref
        self._reversals = {}  # (earn txn_ref, return_ref) -> reversal txn_ref
        self._member_txns = {}  # member_ref -> [txn_ref]
        for txn in self.transactions.values():
            self._index_transaction(txn)
        # (expires at, redemption_ref): a min-heap of live holds; entries whose
        # redemption is no longer held (or expires at another time) are stale.
        self._holds = [(r["hold_expires_ts"], r["redemption_ref"])
                       for r in self.redemptions.values() if r["status"] == "held"]
        heapq.heapify(self._holds)

    def _index_transaction(self, txn):
        self._member_txns.setdefault(txn["member_ref"], []).append(txn["txn_ref"])
        if txn["type"] == "earn":
            self._earns[(txn["member_ref"], txn["order_ref"])] = txn["txn_ref"]
        elif txn["type"] == "reversal":
            self._reversals[(txn["reverses_txn_ref"], txn["return_ref"])] = txn["txn_ref"]

    def state_extra(self):
        self._expire_due_holds()
        return {
            "members": self.members,
            "redemptions": self.redemptions,
            "transactions": list(self.transactions.values()),
            "totals": self.totals,
            "sequences": self.sequences,
            "events": [event.summary()
                       for event in list(self.events.values())[-EVENT_STATE_SIZE:]],
            "stats": self.stats(),
        }

    def dump_state(self):
        return {
            "members": self.members,
            "redemptions": self.redemptions,
            "transactions": list(self.transactions.values()),
            "totals": self.totals,
            "sequences": self.sequences,
            "numbers": self.numbers,
        }

    def load_state(self, data):
        self.members = data.get("members", {})
        self.redemptions = data.get("redemptions", {})
        self.transactions = {txn["txn_ref"]: txn for txn in data.get("transactions", [])}
        totals = self._empty_totals()
        stored = dict(data.get("totals", {}))
        totals["transactions"].update(stored.pop("transactions", {}))
        totals.update(stored)
        self.totals = totals
        self.sequences = data.get("sequences", {})
        self.numbers.update(data.get("numbers", {}))
        self._reindex()

    def _next_ref(self, kind, prefix):
        self.numbers[kind] += 1
        return f"{prefix}-{self.numbers[kind]:06d}"

    # ------------------------------------------------------------------
    # Configuration
    # ------------------------------------------------------------------

    def validate_config(self, name, value):
        number = (is_int(value) or isinstance(value, float))
        if name == "point_value_minor":
            if not is_int(value) or value < 1:
                raise ValueError("must be an integer >= 1 (minor units per point)")
        elif name == "currency":
            if not isinstance(value, str) or not re.fullmatch(r"[A-Z]{3}", value):
                raise ValueError("must be an ISO 4217 code like EUR")
        elif name == "hold_ttl_s":
            if not number or value <= 0:
                raise ValueError("must be a number of seconds > 0")
        elif name == "earn_rate":
            if not number or value < 0:
                raise ValueError("must be a number >= 0 (points per currency unit)")
        elif name == "tier_thresholds":
            if (not isinstance(value, dict) or not value
                    or not all(isinstance(k, str) and k and is_int(v) and v >= 0
                               for k, v in value.items())):
                raise ValueError("must be an object {tier: lifetime points >= 0}")
            if sorted(value.values()).count(0) != 1 or len(set(value.values())) != len(value):
                raise ValueError("exactly one tier starts at 0 and thresholds are distinct")
        elif name == "tier_multipliers":
            if not isinstance(value, dict) or not all(
                isinstance(k, str) and (is_int(v) or isinstance(v, float)) and v >= 0
                for k, v in value.items()
            ):
                raise ValueError("must be an object {tier: multiplier >= 0}")
        else:
            super().validate_config(name, value)

    def apply_config(self, name, value):
        if name in LOYALTY_CONFIG_KEYS:
            setattr(self, name, dict(value) if isinstance(value, dict) else value)
        else:
            super().apply_config(name, value)

    def config_view(self):
        view = super().config_view()
        for name in LOYALTY_CONFIG_KEYS:
            value = getattr(self, name)
            view[name] = dict(value) if isinstance(value, dict) else value
        return view

    # ------------------------------------------------------------------
    # Tiers and points arithmetic
    # ------------------------------------------------------------------

    def _tiers(self):
        """Configured tiers, lowest threshold first."""
        return sorted(self.tier_thresholds, key=self.tier_thresholds.get)

    def _base_tier(self):
        return self._tiers()[0]

    def _tier_rank(self, tier):
        tiers = self._tiers()
        return tiers.index(tier) if tier in tiers else -1

    def _tier_for(self, lifetime_points):
        reached = [t for t in self._tiers() if self.tier_thresholds[t] <= lifetime_points]
        return reached[-1] if reached else self._base_tier()

    def earn_points(self, amount, tier):
        """Points earned on ``amount`` minor units by a member of ``tier``."""
        multiplier = self.tier_multipliers.get(tier, 1)
        exact = (Fraction(amount, 100) * Fraction(str(self.earn_rate))
                 * Fraction(str(multiplier)))
        return math.floor(exact)

    # ------------------------------------------------------------------
    # Routes
    # ------------------------------------------------------------------

    def register_routes(self):
        api = [
            ("GET", "/v1/health", self.api_health),
            ("POST", "/v1/members", self.api_create_member),
            ("GET", "/v1/members", self.api_find_member),
            ("GET", "/v1/members/{member_ref}", self.api_get_member),
            ("GET", "/v1/members/{member_ref}/transactions", self.api_member_transactions),
            ("POST", "/v1/redemptions", self.api_hold),
            ("POST", "/v1/redemptions/{redemption_ref}/confirm", self.api_confirm),
            ("POST", "/v1/redemptions/{redemption_ref}/release", self.api_release),
            ("POST", "/v1/transactions", self.api_post_transaction),
        ]
        control = [
            ("GET", "/_sim/members", self.ctl_members),
            ("POST", "/_sim/members", self.ctl_seed_member),
            ("GET", "/_sim/members/{member_ref}", self.ctl_member),
            ("POST", "/_sim/members/{member_ref}/adjust", self.ctl_adjust),
            ("POST", "/_sim/members/{member_ref}/tier", self.ctl_tier),
            ("POST", "/_sim/members/{member_ref}/expire", self.ctl_expire_points),
            ("GET", "/_sim/redemptions", self.ctl_redemptions),
            ("POST", "/_sim/redemptions/{redemption_ref}/expire", self.ctl_expire_hold),
            ("GET", "/_sim/stats", self.ctl_stats),
            ("POST", "/_sim/events", self.ctl_events),
        ]
        for method, template, handler in api:
            self.route("api", method, template, self._fresh(handler))
        for method, template, handler in control:
            self.route("control", method, template, self._fresh(handler))

    def _fresh(self, handler):
        """``handler`` under the lock, once expired holds are released."""

        def run(request):
            with self.lock:
                self._expire_due_holds()
                return handler(request)

        return run

    # ------------------------------------------------------------------
    # /v1/ API (Odoo -> platform): members
    # ------------------------------------------------------------------

    def api_health(self, request):
        return {"status": "ok"}

    def api_create_member(self, request):
        body = request.json_object()
        check = Checker()
        partner_ref = check.string(body, "partner_ref")
        email, phone = self._check_contact(check, body, required=True)
        name = check.string(body, "name", required=False)
        consents = body.get("consents")
        if consents is not None and not isinstance(consents, dict):
            check.add("consents", "invalid_type", "must be an object")
        check.no_floats(body, "")
        check.raise_if_any("the member is invalid")
        self._check_not_enrolled(email, phone)
        member = self._new_member(partner_ref=partner_ref, email=email, phone=phone, name=name,
                                  consents=consents, tier=self._base_tier(), request=request)
        return 201, {"member_ref": member["member_ref"], "tier": member["tier"],
                     "balance": member["balance"]}

    @staticmethod
    def _check_contact(check, body, required):
        email = check.string(body, "email", required=False)
        phone = check.string(body, "phone", required=False)
        email = email if email and email.strip() else None
        phone = phone if phone and phone.strip() else None
        if email is not None and "@" not in email:
            check.add("email", "invalid_value", "must be an e-mail address with '@'")
        if phone is not None and normalise_phone(phone) is None:
            check.add("phone", "invalid_value", "must contain digits")
        if required and email is None and phone is None \
                and not check.has("email") and not check.has("phone"):
            check.add("email", "required", "an email or a phone is required")
        return email, phone

    def _check_not_enrolled(self, email, phone, member_ref=None):
        matches = []
        if member_ref is not None and member_ref in self.members:
            matches.append({"field": "member_ref", "member_ref": member_ref})
        found = self._by_email.get(normalise_email(email))
        if found:
            matches.append({"field": "email", "member_ref": found})
        found = self._by_phone.get(normalise_phone(phone))
        if found:
            matches.append({"field": "phone", "member_ref": found})
        if matches:
            raise ApiError(409, "member_exists",
                           f"already enrolled as {matches[0]['member_ref']!r} "
                           f"(same {matches[0]['field']})", matches)

    def _new_member(self, *, partner_ref, email, phone, name, consents, tier, request=None,
                    member_ref=None):
        member_ref = member_ref or self._next_ref("member", "MBR")
        member = {
            "member_ref": member_ref,
            "partner_ref": partner_ref,
            "email": email,
            "phone": phone,
            "email_normalised": normalise_email(email),
            "phone_normalised": normalise_phone(phone),
            "name": name,
            "consents": consents,
            "tier": tier,
            "balance": 0,
            "pending": 0,
            "lifetime_points": 0,
            "status": "active",
            "created_at": utc_now_iso(),
            "correlation_id": request.correlation_id if request else None,
        }
        self.members[member_ref] = member
        if member["email_normalised"]:
            self._by_email[member["email_normalised"]] = member_ref
        if member["phone_normalised"]:
            self._by_phone[member["phone_normalised"]] = member_ref
        self.totals["members_created"] += 1
        return member

    @staticmethod
    def member_view(member):
        return {key: member[key] for key in ("member_ref", "tier", "balance", "pending", "status")}

    def _member(self, member_ref, field="member_ref"):
        member = self.members.get(member_ref)
        if member is None:
            raise _member_not_found(member_ref, field)
        return member

    def api_get_member(self, request):
        return self.member_view(self._member(request.params["member_ref"]))

    def api_find_member(self, request):
        email = request.query_value("email")
        phone = request.query_value("phone")
        if not email and not phone:
            raise bad_request("give ?email= or ?phone=",
                              [{"field": "email", "code": "required",
                                "message": "an email or a phone is required"}])
        refs = set()
        if email:
            refs.add(self._by_email.get(normalise_email(email)))
        if phone:
            refs.add(self._by_phone.get(normalise_phone(phone)))
        # Both given: the member must have both.
        if len(refs) != 1 or None in refs:
            field = "email" if email else "phone"
            raise not_found("no member with this email or phone",
                            [{"field": field, "email": email, "phone": phone}],
                            code="member_not_found")
        return self.member_view(self.members[refs.pop()])

    def api_member_transactions(self, request):
        member = self._member(request.params["member_ref"])
        since = request.query_value("since")
        threshold = None
        if since:
            try:
                threshold = parse_since(since)
            except ValueError:
                raise bad_request("since must be an ISO 8601 date or date-time",
                                  [{"field": "since", "code": "invalid_value",
                                    "message": "e.g. 2026-03-01 or 2026-03-01T00:00:00+01:00"}]
                                  ) from None
        listed = []
        for txn_ref in self._member_txns.get(member["member_ref"], []):
            txn = self.transactions[txn_ref]
            if threshold and datetime.datetime.fromisoformat(txn["created_at"]) < threshold:
                continue
            listed.append({key: txn[key] for key in (
                "txn_ref", "type", "points", "order_ref", "return_ref", "reverses_txn_ref",
                "redemption_ref", "reason", "created_at")})
        return {"member_ref": member["member_ref"], "balance": member["balance"],
                "transactions": listed}

    # ------------------------------------------------------------------
    # /v1/ API: redemptions
    # ------------------------------------------------------------------

    def api_hold(self, request):
        body = request.json_object()
        check = Checker()
        member_ref = check.string(body, "member_ref")
        order_ref = check.string(body, "order_ref")
        points = check.integer(body, "points", minimum=1)
        check.raise_if_any("the redemption is invalid")
        member = self._member(member_ref)
        available = member["balance"] - member["pending"]
        if points > available:
            raise _insufficient(max(available, 0), points)
        now = time.time()
        expires = now + self.hold_ttl_s
        redemption = {
            "redemption_ref": self._next_ref("redemption", "RDM"),
            "member_ref": member_ref,
            "order_ref": order_ref,
            "points": points,
            "value": {"amount": points * self.point_value_minor, "currency": self.currency},
            "status": "held",
            "hold_expires_at": iso_at(expires),
            "hold_expires_ts": expires,
            "held_at": iso_at(now),
            "confirmed_at": None,
            "released_at": None,
            "release_reason": None,
            "txn_ref": None,
            "correlation_id": request.correlation_id,
        }
        self.redemptions[redemption["redemption_ref"]] = redemption
        member["pending"] += points
        heapq.heappush(self._holds, (expires, redemption["redemption_ref"]))
        self.totals["redemptions_held"] += 1
        return 201, {key: redemption[key] for key in (
            "redemption_ref", "member_ref", "order_ref", "points", "value", "status",
            "hold_expires_at")}

    def _redemption(self, redemption_ref):
        redemption = self.redemptions.get(redemption_ref)
        if redemption is None:
            raise not_found(f"unknown redemption {redemption_ref!r}",
                            [{"field": "redemption_ref", "redemption_ref": redemption_ref}],
                            code="redemption_not_found")
        return redemption

    def _expire_due_holds(self, now=None):
        """Release every hold past its expiry (the lazy sweep)."""
        now = time.time() if now is None else now
        while self._holds and self._holds[0][0] <= now:
            expires, ref = heapq.heappop(self._holds)
            redemption = self.redemptions.get(ref)
            if (redemption is not None and redemption["status"] == "held"
                    and redemption["hold_expires_ts"] == expires):
                self._release(redemption, "expired")

    def _release(self, redemption, reason):
        redemption["status"] = "released"
        redemption["release_reason"] = reason
        redemption["released_at"] = utc_now_iso()
        self.members[redemption["member_ref"]]["pending"] -= redemption["points"]
        self.totals["redemptions_expired" if reason == "expired" else "redemptions_released"] += 1

    def api_confirm(self, request):
        redemption = self._redemption(request.params["redemption_ref"])
        ref = redemption["redemption_ref"]
        if redemption["status"] == "released":
            if redemption["release_reason"] == "expired":
                raise ApiError(409, "hold_expired",
                               f"the hold of {ref!r} expired at {redemption['hold_expires_at']}"
                               " and was released",
                               [{"redemption_ref": ref,
                                 "hold_expires_at": redemption["hold_expires_at"]}])
            raise ApiError(409, "redemption_released", f"redemption {ref!r} was released",
                           [{"redemption_ref": ref}])
        if redemption["status"] == "held":
            member = self.members[redemption["member_ref"]]
            member["pending"] -= redemption["points"]
            txn = self._post(member, "redeem", -redemption["points"],
                             order_ref=redemption["order_ref"], redemption_ref=ref,
                             request=request)
            redemption["status"] = "confirmed"
            redemption["confirmed_at"] = txn["created_at"]
            redemption["txn_ref"] = txn["txn_ref"]
            self.totals["redemptions_confirmed"] += 1
            self._member_updated(member, request.correlation_id)
        # Confirming a confirmed redemption answers the same again.
        return {"redemption_ref": ref, "status": "confirmed", "txn_ref": redemption["txn_ref"]}

    def api_release(self, request):
        redemption = self._redemption(request.params["redemption_ref"])
        ref = redemption["redemption_ref"]
        if redemption["status"] == "confirmed":
            raise ApiError(409, "redemption_confirmed",
                           f"redemption {ref!r} was confirmed: its points are spent",
                           [{"redemption_ref": ref, "txn_ref": redemption["txn_ref"]}])
        if redemption["status"] == "held":
            self._release(redemption, "released")
        # Releasing a released (or expired) redemption answers the same again.
        return {"redemption_ref": ref, "status": "released"}

    # ------------------------------------------------------------------
    # /v1/ API: transactions (earn, reversal)
    # ------------------------------------------------------------------

    def api_post_transaction(self, request):
        body = request.json_object()
        check = Checker()
        kind = check.choice(body, "type", ("earn", "reversal"))
        member_ref = check.string(body, "member_ref")
        order_ref = check.string(body, "order_ref", required=(kind == "earn"))
        return_ref = check.string(body, "return_ref", required=(kind == "reversal"))
        reverses = check.string(body, "reverses_txn_ref", required=(kind == "reversal"))
        amount = body.get("amount")
        if isinstance(amount, dict):
            check.integer(amount, "amount", "amount.", minimum=0, money=True)
            check.currency(amount, "currency", "amount.")
        elif amount is None:
            check.add("amount", "required", "is required")
        else:
            check.add("amount", "invalid_type", "must be {amount, currency}")
        lines = body.get("lines")
        if lines is not None and not isinstance(lines, list):
            check.add("lines", "invalid_type", "must be a list")
        check.no_floats(body, "")
        check.raise_if_any("the transaction is invalid")
        member = self._member(member_ref)
        if kind == "earn":
            txn = self._earn(member, order_ref, amount, lines, request)
        else:
            txn = self._reverse(member, reverses, return_ref, order_ref, amount, lines, request)
        return 201, {"txn_ref": txn["txn_ref"], "points": txn["points"], "status": "posted"}

    def _check_currency(self, amount, expected):
        if amount["currency"] != expected:
            raise ApiError(422, "currency_mismatch",
                           f"amounts are in {expected}, not {amount['currency']}",
                           [{"field": "amount.currency", "code": "currency_mismatch",
                             "expected": expected}])

    def _earn(self, member, order_ref, amount, lines, request):
        existing = self._earns.get((member["member_ref"], order_ref))
        if existing:
            raise ApiError(409, "duplicate_transaction",
                           f"order {order_ref!r} already earned points ({existing})",
                           [{"field": "order_ref", "order_ref": order_ref,
                             "txn_ref": existing}])
        self._check_currency(amount, self.currency)
        points = self.earn_points(amount["amount"], member["tier"])
        txn = self._post(member, "earn", points, order_ref=order_ref, amount=amount,
                         lines=lines, request=request)
        txn["reversed_points"] = 0
        txn["reversed_amount"] = 0
        self._after_qualifying(member, points, request.correlation_id)
        return txn

    def _reverse(self, member, reverses, return_ref, order_ref, amount, lines, request):
        original = self.transactions.get(reverses)
        if (original is not None and original["type"] == "redeem"
                and original["member_ref"] == member["member_ref"]):
            return self._reverse_redeem(member, original, return_ref, order_ref, lines, request)
        if (original is None or original["type"] != "earn"
                or original["member_ref"] != member["member_ref"]):
            raise ApiError(422, "invalid_reversal",
                           f"{reverses!r} is not an earn transaction of {member['member_ref']!r}",
                           [{"field": "reverses_txn_ref", "code": "invalid_reversal",
                             "reverses_txn_ref": reverses}])
        existing = self._reversals.get((reverses, return_ref))
        if existing:
            raise ApiError(409, "duplicate_transaction",
                           f"return {return_ref!r} already reversed {reverses!r} ({existing})",
                           [{"field": "return_ref", "return_ref": return_ref,
                             "txn_ref": existing}])
        self._check_currency(amount, original["amount"]["currency"])
        earned = original["points"]
        if original["amount"]["amount"]:
            share = round_half_up(Fraction(earned * amount["amount"], original["amount"]["amount"]))
        else:
            share = 0
        # Never take back more than the earn gave, whatever the amounts say.
        points = min(share, earned - original["reversed_points"])
        txn = self._post(member, "reversal", -points,
                         order_ref=order_ref or original["order_ref"], return_ref=return_ref,
                         reverses_txn_ref=reverses, amount=amount, lines=lines, request=request)
        txn["uncapped_points"] = -share
        original["reversed_points"] += points
        original["reversed_amount"] += amount["amount"]
        self._after_qualifying(member, -points, request.correlation_id)
        return txn

    def _reverse_redeem(self, member, original, return_ref, order_ref, lines, request):
        """A confirmed redemption on an order that was cancelled: all its
        points come back, once (the amount sent does not matter)."""
        existing = next((txn_ref for (ref, _ret), txn_ref in self._reversals.items()
                         if ref == original["txn_ref"]), None)
        if existing:
            raise ApiError(409, "duplicate_transaction",
                           f"redemption {original['txn_ref']!r} was already given back "
                           f"({existing})",
                           [{"field": "reverses_txn_ref", "txn_ref": existing}])
        txn = self._post(member, "reversal", -original["points"],
                         order_ref=order_ref or original.get("order_ref"), return_ref=return_ref,
                         reverses_txn_ref=original["txn_ref"], lines=lines, request=request)
        self._member_updated(member, request.correlation_id)
        return txn

    def _after_qualifying(self, member, points, correlation_id):
        """Lifetime points moved by ``points``: tier upgrade, then the update event."""
        member["lifetime_points"] += points
        reached = self._tier_for(member["lifetime_points"])
        if self._tier_rank(reached) > self._tier_rank(member["tier"]):
            self._change_tier(member, reached, correlation_id)
        if points:
            self._member_updated(member, correlation_id)

    def _post(self, member, kind, points, *, order_ref=None, return_ref=None,
              reverses_txn_ref=None, redemption_ref=None, reason=None, amount=None, lines=None,
              request=None):
        """Append a ledger transaction and move the balance."""
        member["balance"] += points
        txn = {
            "txn_ref": self._next_ref("txn", "TXN"),
            "type": kind,
            "member_ref": member["member_ref"],
            "points": points,
            "order_ref": order_ref,
            "return_ref": return_ref,
            "reverses_txn_ref": reverses_txn_ref,
            "redemption_ref": redemption_ref,
            "reason": reason,
            "amount": amount,
            "lines": lines,
            "balance_after": member["balance"],
            "created_at": utc_now_iso(),
            "correlation_id": request.correlation_id if request else None,
            "idempotency_key": request.idempotency_key if request else None,
        }
        self.transactions[txn["txn_ref"]] = txn
        self._index_transaction(txn)
        self.totals["transactions"][kind] += 1
        return txn

    # ------------------------------------------------------------------
    # Events (platform -> Odoo)
    # ------------------------------------------------------------------

    def emit(self, event_type, subject, data, sequence=None, event_id=None,
             correlation_id=None):
        """Create an event with the next sequence of ``subject`` and queue it."""
        with self.lock:
            last = self.sequences.get(subject, 0)
            if sequence is None:
                sequence = last + 1
            # An explicit (possibly stale) sequence never moves the counter back.
            self.sequences[subject] = max(last, sequence)
            event = WebhookEvent(
                event_id or f"evt_{uuid.uuid4().hex}", event_type, subject, sequence,
                data, correlation_id=correlation_id,
            )
            self.events[event.id] = event
            if len(self.events) > EVENT_LOG_SIZE:
                del self.events[next(iter(self.events))]  # oldest first
            self.last_event = event
            self.webhooks.enqueue(event)
            return event

    def _member_updated(self, member, correlation_id=None):
        data = {key: member[key] for key in (
            "member_ref", "partner_ref", "tier", "balance", "pending", "status")}
        return self.emit("member.updated", member["member_ref"], data,
                         correlation_id=correlation_id)

    def _change_tier(self, member, tier, correlation_id=None):
        old_tier, member["tier"] = member["tier"], tier
        data = {"member_ref": member["member_ref"], "old_tier": old_tier, "tier": tier,
                "balance": member["balance"]}
        return self.emit("member.tier_changed", member["member_ref"], data,
                         correlation_id=correlation_id)

    def _new_events(self, before):
        """Summaries of the events emitted since ``before`` events existed."""
        return [event.summary() for event in list(self.events.values())[before:]]

    # ------------------------------------------------------------------
    # Statistics
    # ------------------------------------------------------------------

    def stats(self):
        """Server-side handling time (``duration_ms`` of the request log).

        Over the requests still in the log (the last 1,000): successful,
        not replayed answers only, so an injected 503 or a replay does not make
        the platform look faster.  ``duration_ms`` includes injected latency
        but not the late answer of a ``timeout_phase: after`` fault.
        """
        by_endpoint = {}
        for entry in self.requests.tail():
            by_endpoint.setdefault(entry["endpoint"], []).append(entry)

        def summary(entries):
            times = sorted(e["duration_ms"] for e in entries
                           if 200 <= e["status"] < 300 and not e["replayed"])
            return {
                "count": len(times),
                "excluded": len(entries) - len(times),
                "p50_ms": percentile(times, 50),
                "p95_ms": percentile(times, 95),
                "max_ms": times[-1] if times else None,
                "mean_ms": round(sum(times) / len(times), 1) if times else None,
            }

        return {
            "redemptions": summary(by_endpoint.get(REDEMPTION_ENDPOINT, [])),
            "endpoints": {name: summary(entries) for name, entries in sorted(by_endpoint.items())},
        }

    # ------------------------------------------------------------------
    # /_sim/ control routes (platform side)
    # ------------------------------------------------------------------

    def ctl_members(self, request):
        return {"members": list(self.members.values()),
                "members_created": self.totals["members_created"]}

    def ctl_member(self, request):
        member = self._member(request.params["member_ref"])
        txns = [self.transactions[ref] for ref in self._member_txns.get(member["member_ref"], [])]
        return dict(member, transactions=txns)

    def ctl_seed_member(self, request):
        """Enrol a member platform-side, with a starting balance (no event)."""
        body = request.json_object(optional=True)
        check = Checker()
        member_ref = check.string(body, "member_ref", required=False)
        partner_ref = check.string(body, "partner_ref", required=False)
        email, phone = self._check_contact(check, body, required=False)
        name = check.string(body, "name", required=False)
        balance = check.integer(body, "balance", required=False, minimum=0) or 0
        tier = check.choice(body, "tier", self._tiers(), default=self._base_tier())
        check.raise_if_any("invalid member")
        self._check_not_enrolled(email, phone, member_ref)
        member = self._new_member(partner_ref=partner_ref, email=email, phone=phone, name=name,
                                  consents=body.get("consents"), tier=tier,
                                  member_ref=member_ref)
        if balance:
            # The opening balance is a ledger line too: the ledger always sums
            # to the balance.
            self._post(member, "adjustment", balance, reason=body.get("reason") or "seed")
        return dict(self.member_view(member), partner_ref=partner_ref)

    def ctl_adjust(self, request):
        """A manual platform-side adjustment: ``adjustment`` transaction + ``member.updated``."""
        member = self._member(request.params["member_ref"])
        body = request.json_object()
        check = Checker()
        points = check.integer(body, "points")
        if points == 0:
            check.add("points", "out_of_range", "must not be 0")
        reason = check.string(body, "reason", required=False) or "manual_adjustment"
        check.raise_if_any("invalid adjustment")
        available = member["balance"] - member["pending"]
        if points < 0 and -points > available:
            raise _insufficient(max(available, 0), -points)
        before = len(self.events)
        txn = self._post(member, "adjustment", points, reason=reason)
        self._member_updated(member)
        return {"member": self.member_view(member), "txn_ref": txn["txn_ref"],
                "events": self._new_events(before)}

    def ctl_tier(self, request):
        """Force a tier (``member.tier_changed`` when it changes)."""
        member = self._member(request.params["member_ref"])
        body = request.json_object()
        check = Checker()
        tier = check.choice(body, "tier", self._tiers())
        check.raise_if_any("invalid tier")
        before = len(self.events)
        if tier != member["tier"]:
            self._change_tier(member, tier)
        return {"member": self.member_view(member), "events": self._new_events(before)}

    def ctl_expire_points(self, request):
        """Expire points: ``expiry`` transaction, ``points.expired`` then ``member.updated``."""
        member = self._member(request.params["member_ref"])
        body = request.json_object(optional=True)
        check = Checker()
        points = check.integer(body, "points", required=False, minimum=1)
        check.raise_if_any("invalid expiry")
        available = member["balance"] - member["pending"]
        if points is None:
            if available <= 0:
                raise ApiError(409, "nothing_to_expire",
                               f"member {member['member_ref']!r} has no available points")
            points = available
        elif points > available:
            raise _insufficient(max(available, 0), points)
        before = len(self.events)
        txn = self._post(member, "expiry", -points, reason=body.get("reason") or "expired")
        self.emit("points.expired", member["member_ref"],
                  {"member_ref": member["member_ref"], "points": points,
                   "balance": member["balance"]})
        self._member_updated(member)
        return {"member": self.member_view(member), "txn_ref": txn["txn_ref"],
                "events": self._new_events(before)}

    def ctl_redemptions(self, request):
        status = request.query_value("status")
        return {"redemptions": [r for r in self.redemptions.values()
                                if status is None or r["status"] == status]}

    def ctl_expire_hold(self, request):
        """Make a live hold expire now (released as expired)."""
        redemption = self._redemption(request.params["redemption_ref"])
        if redemption["status"] != "held":
            raise ApiError(409, "redemption_not_held",
                           f"redemption {redemption['redemption_ref']!r} is "
                           f"{redemption['status']}")
        now = time.time()
        redemption["hold_expires_ts"] = now
        redemption["hold_expires_at"] = iso_at(now)
        self._release(redemption, "expired")
        return redemption

    def ctl_stats(self, request):
        return self.stats()

    def ctl_events(self, request):
        """Emit an arbitrary event, or re-deliver a known one (``repeat``)."""
        body = request.json_object()
        if body.get("repeat"):
            event_id = body.get("event_id")
            event = self.events.get(event_id) if event_id else self.last_event
            if event is None:
                raise not_found("no such event to repeat", code="event_not_found")
            # Same object: same webhook-id and byte-identical body.
            self.webhooks.enqueue(event)
            return {"repeated": True, "events": [event.summary()]}
        check = Checker()
        event_type = check.string(body, "type")
        member_ref = check.string(body, "member_ref", required=False)
        sequence = check.integer(body, "sequence", required=False, minimum=0)
        event_id = check.string(body, "id", required=False)
        data = body.get("data", {})
        if not isinstance(data, dict):
            check.add("data", "invalid_type", "must be an object")
        check.raise_if_any("invalid event")
        if member_ref and "member_ref" not in data:
            data = {"member_ref": member_ref, **data}
        subject = member_ref or data.get("member_ref") or event_type
        event = self.emit(event_type, subject, data, sequence=sequence, event_id=event_id)
        return {"repeated": False, "events": [event.summary()]}


def main(argv=None):
    parser = build_arg_parser(
        prog="python -m simulators.loyalty",
        description="Loyalty platform reference simulator (partner side of the loyalty contract).",
        default_port=DEFAULT_PORT,
    )
    parser.add_argument("--currency", default="EUR",
                        help="currency of earn amounts and redemption values (default EUR)")
    parser.add_argument("--point-value-minor", type=int, default=1,
                        help="value of one point in minor units (default 1: 100 points = 1.00)")
    parser.add_argument("--earn-rate", type=float, default=1.0,
                        help="points per currency unit spent, before the tier multiplier (default 1)")
    parser.add_argument("--hold-ttl", type=float, default=900.0,
                        help="seconds a redemption hold lives unless confirmed (default 900)")
    args = parser.parse_args(argv)
    try:
        simulator = LoyaltySimulator(
            args.host, args.port, api_key=args.api_key, webhook_url=args.webhook_url,
            webhook_secret=args.webhook_secret, seed=args.seed, state_file=args.state_file,
            verbose=args.verbose, currency=args.currency,
            point_value_minor=args.point_value_minor, earn_rate=args.earn_rate,
            hold_ttl_s=args.hold_ttl,
        )
    except (OSError, ValueError) as exc:
        parser.error(str(exc))
    return serve_until_signal(simulator)


if __name__ == "__main__":
    sys.exit(main())
