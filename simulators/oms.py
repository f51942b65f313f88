# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""OMS simulator: the partner side of the ``oms`` contract (CONTRACTS.md).

Odoo calls ``/v1/`` (orders, cancel, inventory, products, health); tests drive
the OMS side through ``/_sim/`` triggers that emit signed webhooks
(``fulfillment.*``, ``order.cancelled``, ``return.received``) back to Odoo.

Rules specific to this simulator, on top of the contract:

* an order whose ``customer.email`` is missing or has no ``@`` is refused with
  ``422 validation_error`` (field ``customer.email``) -- the hook for tests of
  the 422 path;
* a line whose ``sku`` starts with ``UNKNOWN`` is refused with
  ``422 unknown_sku``;
* more than 1,000 inventory levels or products in one call is ``413``
  (``too_many_levels`` / ``too_many_products``).
"""

import sys
import threading
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

MAX_ITEMS_PER_CALL = 1000
# Events kept for `repeat` by id; the state shows the most recent summaries.
EVENT_LOG_SIZE = 10000
EVENT_STATE_SIZE = 1000
DEFAULT_PORT = 8071
FULFILMENT_TYPES = ("ship", "pickup", "ship_from_store")
# Fulfilment events a trigger may emit, and which of them mean the goods left.
FULFILMENT_EVENTS = ("accepted", "ready_for_pickup", "shipped", "picked_up", "delivered")
LEAVING_EVENTS = ("shipped", "picked_up", "delivered")
# picked_up is the end of a pickup fulfilment, as delivered is for a shipment.
ARRIVED_EVENTS = ("delivered", "picked_up")
DISPOSITIONS = ("restock", "unusable")


def _order_not_found(order_ref):
    return not_found(f"unknown order {order_ref!r}",
                     [{"field": "order_ref", "order_ref": order_ref}],
                     code="order_not_found")


class OmsSimulator(SimulatorServer):
    """In-memory OMS.  ``OmsSimulator(port=0, ...).start()`` then ``.url``."""

    name = "oms"
    display_name = "OMS"
    config_keys = (*SimulatorServer.config_keys,
                   "auto_fulfil", "auto_fulfil_delay", "auto_fulfil_location")

    def __init__(self, host=DEFAULT_HOST, port=0, *, auto_fulfil=False,
                 auto_fulfil_delay=1.0, auto_fulfil_location="WH", **kwargs):
        self.auto_fulfil = auto_fulfil
        self.auto_fulfil_delay = auto_fulfil_delay
        self.auto_fulfil_location = auto_fulfil_location
        self._timers = set()
        super().__init__(host, port, **kwargs)

    # ------------------------------------------------------------------
    # State
    # ------------------------------------------------------------------

    def reset_state(self):
        with self.lock:
            self._cancel_timers()
            self.orders = {}
            self.orders_created = 0
            self.inventory = {}  # (sku, location_ref) -> level
            self.inventory_totals = {"calls": 0, "levels": 0, "accepted": 0, "stale": 0}
            self.products = {}
            self.product_totals = {"calls": 0, "accepted": 0}
            self.sequences = {}  # object ref (order_ref) -> last sequence emitted
            self.numbers = {"fulfillment": 0, "return": 0, "tracking": 0}
            self.events = {}  # event id -> WebhookEvent (insertion ordered)
            self.last_event = None

    def state_extra(self):
        state = self.dump_state()
        del state["numbers"]
        state["events"] = [event.summary()
                           for event in list(self.events.values())[-EVENT_STATE_SIZE:]]
        return state

    def dump_state(self):
        return {
            "orders": self.orders,
            "orders_created": self.orders_created,
            "inventory": self._levels(),
            "inventory_totals": self.inventory_totals,
            "products": self.products,
            "product_totals": self.product_totals,
            "sequences": self.sequences,
            "numbers": self.numbers,
        }

    def load_state(self, data):
        self.orders = data.get("orders", {})
        self.orders_created = data.get("orders_created", 0)
        self.inventory = {(lv["sku"], lv["location_ref"]): lv for lv in data.get("inventory", [])}
        self.inventory_totals.update(data.get("inventory_totals", {}))
        self.products = data.get("products", {})
        self.product_totals.update(data.get("product_totals", {}))
        self.sequences = data.get("sequences", {})
        self.numbers.update(data.get("numbers", {}))

    def _levels(self, sku=None, location_ref=None):
        return [
            dict(level) for (level_sku, level_loc), level in sorted(self.inventory.items())
            if (sku is None or level_sku == sku)
            and (location_ref is None or level_loc == location_ref)
        ]

    def _next_number(self, kind):
        self.numbers[kind] += 1
        return self.numbers[kind]

    # ------------------------------------------------------------------
    # Configuration
    # ------------------------------------------------------------------

    def validate_config(self, name, value):
        if name == "auto_fulfil":
            if not isinstance(value, bool):
                raise ValueError("must be true or false")
        elif name == "auto_fulfil_delay":
            if not (is_int(value) or isinstance(value, float)) or value < 0:
                raise ValueError("must be a number >= 0")
        elif name == "auto_fulfil_location":
            if not isinstance(value, str) or not value:
                raise ValueError("must be a non-empty string")
        else:
            super().validate_config(name, value)

    def apply_config(self, name, value):
        if name in ("auto_fulfil", "auto_fulfil_delay", "auto_fulfil_location"):
            setattr(self, name, value)
        else:
            super().apply_config(name, value)

    def config_view(self):
        view = super().config_view()
        view.update(
            auto_fulfil=self.auto_fulfil,
            auto_fulfil_delay=self.auto_fulfil_delay,
            auto_fulfil_location=self.auto_fulfil_location,
        )
        return view

    # ------------------------------------------------------------------
    # Routes
    # ------------------------------------------------------------------

    def register_routes(self):
        api = [
            ("GET", "/v1/health", self.api_health),
            ("POST", "/v1/orders", self.api_create_order),
            ("POST", "/v1/orders/{order_ref}/cancel", self.api_cancel_order),
            ("POST", "/v1/orders/{order_ref}/lines", self.api_update_lines),
            ("PUT", "/v1/inventory", self.api_put_inventory),
            ("PUT", "/v1/products", self.api_put_products),
        ]
        control = [
            ("GET", "/_sim/orders", self.ctl_orders),
            ("GET", "/_sim/orders/{order_ref}", self.ctl_order),
            ("GET", "/_sim/inventory", self.ctl_inventory),
            ("GET", "/_sim/products", self.ctl_products),
            ("POST", "/_sim/orders/{order_ref}/fulfil", self.ctl_fulfil),
            ("POST", "/_sim/orders/{order_ref}/unfulfillable", self.ctl_unfulfillable),
            ("POST", "/_sim/orders/{order_ref}/return", self.ctl_return),
            ("POST", "/_sim/orders/{order_ref}/cancel_event", self.ctl_cancel_event),
            ("POST", "/_sim/events", self.ctl_events),
        ]
        for method, template, handler in api:
            self.route("api", method, template, handler)
        for method, template, handler in control:
            self.route("control", method, template, handler)

    # ------------------------------------------------------------------
    # /v1/ API (Odoo -> OMS)
    # ------------------------------------------------------------------

    def api_health(self, request):
        return {"status": "ok"}

    def api_create_order(self, request):
        body = request.json_object()
        lines = self._validate_order(body)
        order_ref = body["order_ref"]
        existing = self.orders.get(order_ref)
        if existing is not None:
            # Another Idempotency-Key (or none) for a known order_ref: refuse,
            # never create a second order.
            raise ApiError(
                409, "duplicate_order", f"order {order_ref!r} already exists",
                [{"field": "order_ref", "order_ref": order_ref,
                  "oms_order_id": existing["oms_order_id"]}],
            )
        self._check_order_rules(body)
        fulfilment = body.get("fulfillment") or {}
        self.orders_created += 1
        order = {
            "order_ref": order_ref,
            "oms_order_id": f"OMS-{self.orders_created:06d}",
            "status": "accepted",
            "channel": body.get("channel"),
            "placed_at": body.get("placed_at"),
            "currency": body["currency"],
            "customer": body.get("customer"),
            "fulfillment_type": fulfilment.get("type", "ship"),
            "pickup_location_ref": fulfilment.get("pickup_location_ref"),
            "payment": body.get("payment"),
            "totals": body.get("totals"),
            "lines": [
                {
                    "line_ref": line["line_ref"],
                    "sku": line["sku"],
                    "qty": line["qty"],
                    "unit_price": line["unit_price"],
                    "allocated_qty": 0,
                    "shipped_qty": 0,
                    "cancelled_qty": 0,
                    "returned_qty": 0,
                }
                for line in lines
            ],
            "fulfillments": {},
            "returns": [],
            "created_at": utc_now_iso(),
            "correlation_id": request.correlation_id,
            "idempotency_key": request.idempotency_key,
            "cancel_reason": None,
            "cancelled_at": None,
            "payload": body,
        }
        self.orders[order_ref] = order
        if self.auto_fulfil:
            self._schedule_auto_fulfil(order_ref)
        return 201, {"order_ref": order_ref, "oms_order_id": order["oms_order_id"],
                     "status": "accepted"}

    def _validate_order(self, body):
        """Structural checks (400); returns the lines."""
        check = Checker()
        check.string(body, "order_ref")
        check.currency(body, "currency")
        for key in ("channel", "placed_at"):
            check.string(body, key, required=False)
        for key in ("customer", "ship_to", "fulfillment", "payment", "totals"):
            if body.get(key) is not None and not isinstance(body[key], dict):
                check.add(key, "invalid_type", "must be an object")
        fulfilment = body.get("fulfillment")
        if isinstance(fulfilment, dict):
            kind = check.choice(fulfilment, "type", ("ship", "pickup"), "fulfillment.", "ship")
            if kind == "pickup":
                check.string(fulfilment, "pickup_location_ref", "fulfillment.")
        payment = body.get("payment")
        if isinstance(payment, dict) and "status" in payment:
            check.choice(payment, "status", ("authorized", "captured"), "payment.")
        lines = body.get("lines")
        if not isinstance(lines, list) or not lines:
            check.add("lines", "required", "must be a non-empty list")
            lines = []
        seen = set()
        for index, line in enumerate(lines):
            prefix = f"lines[{index}]."
            if not isinstance(line, dict):
                check.add(f"lines[{index}]", "invalid_type", "must be an object")
                continue
            line_ref = check.string(line, "line_ref", prefix)
            if line_ref in seen:
                check.add(f"{prefix}line_ref", "duplicate", "line_ref must be unique")
            seen.add(line_ref)
            check.string(line, "sku", prefix)
            check.integer(line, "qty", prefix, minimum=1)
            check.integer(line, "unit_price", prefix, money=True)
            for key in ("discount", "tax"):
                self._check_money(check, line.get(key), f"{prefix}{key}")
        # Money is integer minor units and quantities are integers: a float
        # anywhere in an order is a client bug worth reporting precisely.
        check.no_floats(body, "")
        check.raise_if_any("the order is invalid")
        return lines

    @staticmethod
    def _check_money(check, value, field):
        """Optional money: an integer, or ``{"amount": int, "currency"}``."""
        if value is None or is_int(value):
            return
        if isinstance(value, dict):
            check.integer(value, "amount", f"{field}.", money=True)
            check.currency(value, "currency", f"{field}.", required=False)
            return
        if isinstance(value, float):
            check.add(field, "not_integer", "amounts are integer minor units, never floats")
        else:
            check.add(field, "invalid_type", "must be an integer amount in minor units")

    @staticmethod
    def _check_order_rules(body):
        """Business rules (422), after the structure is known to be right."""
        customer = body.get("customer") or {}
        email = customer.get("email")
        if not isinstance(email, str) or "@" not in email:
            raise ApiError(
                422, "validation_error", "the customer e-mail is missing or invalid",
                [{"field": "customer.email", "code": "invalid_email",
                  "message": "an e-mail address with '@' is required"}],
            )
        unknown = [
            {"field": f"lines[{index}].sku", "code": "unknown_sku", "sku": line["sku"],
             "message": "this SKU is not sold through the OMS"}
            for index, line in enumerate(body["lines"])
            if line["sku"].startswith("UNKNOWN")
        ]
        if unknown:
            raise ApiError(422, "unknown_sku", "the order has unknown SKUs", unknown)

    def api_cancel_order(self, request):
        order_ref = request.params["order_ref"]
        body = request.json_object(optional=True)
        reason = body.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise bad_request("reason must be a string",
                              [{"field": "reason", "code": "invalid_type"}])
        order = self.orders.get(order_ref)
        if order is None:
            raise _order_not_found(order_ref)
        shipped = [
            {"line_ref": line["line_ref"], "shipped_qty": line["shipped_qty"]}
            for line in order["lines"] if line["shipped_qty"]
        ]
        if shipped:
            raise ApiError(409, "already_shipped",
                           f"order {order_ref!r} has shipped lines and cannot be cancelled",
                           shipped)
        if order["status"] != "cancelled":
            self._cancel(order, reason)
        # Cancelling a cancelled order is answered the same way (idempotent
        # even without an Idempotency-Key).  No order.cancelled event is sent
        # for a cancel Odoo asked for; use /_sim/.../cancel_event for that.
        return {"order_ref": order_ref, "status": "cancelled"}

    def _cancel(self, order, reason):
        order["status"] = "cancelled"
        order["cancel_reason"] = reason
        order["cancelled_at"] = utc_now_iso()
        for fulfilment in order["fulfillments"].values():
            if fulfilment["status"] not in LEAVING_EVENTS + ("cancelled",):
                fulfilment["status"] = "cancelled"

    def api_update_lines(self, request):
        """Reduce ordered quantities before fulfillment (suite extension of v1).

        Body ``{"lines": [{"line_ref", "qty"}], "reason"}`` where ``qty`` is
        the new ordered quantity (absolute, so a repeat changes nothing). A
        quantity below what is already allocated to a fulfilment or shipped
        is refused with ``409 already_fulfilled``; an increase is ``422``.
        """
        order_ref = request.params["order_ref"]
        body = request.json_object()
        order = self.orders.get(order_ref)
        if order is None:
            raise _order_not_found(order_ref)
        raw_lines = body.get("lines")
        if not isinstance(raw_lines, list) or not raw_lines:
            raise bad_request("lines must be a non-empty list",
                              [{"field": "lines", "code": "required"}])
        lines = self._line_map(order)
        check = Checker()
        changes = []
        for index, raw in enumerate(raw_lines):
            prefix = f"lines[{index}]."
            line_ref = check.string(raw, "line_ref", prefix)
            qty = check.integer(raw, "qty", prefix, minimum=0)
            if line_ref is not None and line_ref not in lines:
                check.add(f"{prefix}line_ref", "unknown_line", f"no line {line_ref!r}")
            elif line_ref is not None and qty is not None:
                changes.append((lines[line_ref], qty))
        check.raise_if_any("invalid line update")
        if order["status"] == "cancelled":
            raise ApiError(409, "order_cancelled", f"order {order_ref!r} is cancelled")
        busy = [{"line_ref": line["line_ref"], "qty": qty,
                 "allocated_qty": line["allocated_qty"], "shipped_qty": line["shipped_qty"]}
                for line, qty in changes
                if qty < line["allocated_qty"] + line["shipped_qty"]]
        if busy:
            raise ApiError(409, "already_fulfilled",
                           "these quantities are already allocated or shipped", busy)
        grown = [{"line_ref": line["line_ref"], "qty": qty, "ordered": line["qty"]}
                 for line, qty in changes if qty > line["qty"]]
        if grown:
            raise ApiError(422, "increase_not_allowed",
                           "quantities can only be reduced; place a new order", grown)
        for line, qty in changes:
            line["qty"] = qty
        return 200, {"order_ref": order_ref,
                     "lines": [{"line_ref": line["line_ref"], "qty": line["qty"]}
                               for line in order["lines"]]}

    def api_put_inventory(self, request):
        body = request.json_object()
        levels = body.get("levels")
        if not isinstance(levels, list):
            raise bad_request("levels must be a list", [{"field": "levels", "code": "required"}])
        if len(levels) > MAX_ITEMS_PER_CALL:
            raise ApiError(413, "too_many_levels",
                           f"at most {MAX_ITEMS_PER_CALL} levels per call",
                           [{"field": "levels", "max": MAX_ITEMS_PER_CALL, "got": len(levels)}])
        check = Checker()
        for index, level in enumerate(levels):
            prefix = f"levels[{index}]."
            if not isinstance(level, dict):
                check.add(f"levels[{index}]", "invalid_type", "must be an object")
                continue
            check.string(level, "sku", prefix)
            check.string(level, "location_ref", prefix)
            check.integer(level, "available", prefix)
            check.integer(level, "on_hand", prefix)
            check.integer(level, "sequence", prefix, minimum=0)
        check.raise_if_any("the inventory levels are invalid")
        # All or nothing: only a fully valid call is applied, level by level in
        # the order given (a later level of the same key in one call wins if
        # its sequence is higher).
        accepted = stale = 0
        now = utc_now_iso()
        for level in levels:
            key = (level["sku"], level["location_ref"])
            stored = self.inventory.get(key)
            if stored is not None and level["sequence"] <= stored["sequence"]:
                stale += 1
                continue
            self.inventory[key] = {
                "sku": level["sku"],
                "location_ref": level["location_ref"],
                "available": level["available"],
                "on_hand": level["on_hand"],
                "sequence": level["sequence"],
                "updated_at": now,
            }
            accepted += 1
        totals = self.inventory_totals
        totals["calls"] += 1
        totals["levels"] += len(levels)
        totals["accepted"] += accepted
        totals["stale"] += stale
        return {"accepted": accepted, "stale": stale}

    def api_put_products(self, request):
        body = request.json_object()
        products = body.get("products")
        if not isinstance(products, list):
            raise bad_request("products must be a list",
                              [{"field": "products", "code": "required"}])
        if len(products) > MAX_ITEMS_PER_CALL:
            raise ApiError(413, "too_many_products",
                           f"at most {MAX_ITEMS_PER_CALL} products per call",
                           [{"field": "products", "max": MAX_ITEMS_PER_CALL,
                             "got": len(products)}])
        check = Checker()
        for index, product in enumerate(products):
            prefix = f"products[{index}]."
            if not isinstance(product, dict):
                check.add(f"products[{index}]", "invalid_type", "must be an object")
                continue
            check.string(product, "sku", prefix)
            check.string(product, "name", prefix)
            barcode = product.get("barcode")
            if barcode is not None and not isinstance(barcode, str):
                check.add(f"{prefix}barcode", "invalid_type", "must be a string or null")
            check.integer(product, "price", prefix, money=True)
            check.currency(product, "currency", prefix)
            check.boolean(product, "active", prefix, default=True)
        check.raise_if_any("the products are invalid")
        now = utc_now_iso()
        for product in products:
            self.products[product["sku"]] = {
                "sku": product["sku"],
                "name": product["name"],
                "barcode": product.get("barcode"),
                "price": product["price"],
                "currency": product["currency"],
                "active": product.get("active", True),
                "updated_at": now,
            }
        self.product_totals["calls"] += 1
        self.product_totals["accepted"] += len(products)
        return {"accepted": len(products)}

    # ------------------------------------------------------------------
    # Events (OMS -> Odoo)
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

    def _order(self, order_ref):
        order = self.orders.get(order_ref)
        if order is None:
            raise _order_not_found(order_ref)
        return order

    def _line_map(self, order):
        return {line["line_ref"]: line for line in order["lines"]}

    def _parse_lines(self, order, raw_lines, available, what):
        """Validate requested ``[{line_ref, sku, qty}]`` against the order.

        ``available(line)`` is the quantity that may still be used; asking for
        more is a 409 (over-shipment, over-return...).  Returns clean lines.
        """
        if not isinstance(raw_lines, list) or not raw_lines:
            raise bad_request("lines must be a non-empty list",
                              [{"field": "lines", "code": "required"}])
        by_ref = self._line_map(order)
        check = Checker()
        clean = []
        for index, raw in enumerate(raw_lines):
            prefix = f"lines[{index}]."
            if not isinstance(raw, dict):
                check.add(f"lines[{index}]", "invalid_type", "must be an object")
                continue
            line_ref = check.string(raw, "line_ref", prefix)
            qty = check.integer(raw, "qty", prefix, minimum=1)
            line = by_ref.get(line_ref)
            if line_ref is not None and line is None:
                check.add(f"{prefix}line_ref", "unknown_line", "not a line of this order")
                continue
            sku = raw.get("sku", line["sku"] if line else None)
            if line is not None and sku != line["sku"]:
                check.add(f"{prefix}sku", "sku_mismatch", f"line {line_ref} is {line['sku']}")
            if line is not None and qty is not None:
                clean.append((line, qty, raw))
        check.raise_if_any(f"invalid {what} lines")
        requested = {}
        for line, qty, _raw in clean:
            requested[line["line_ref"]] = requested.get(line["line_ref"], 0) + qty
        too_much = [
            {"line_ref": ref, "requested": qty, "available": available(by_ref[ref])}
            for ref, qty in requested.items() if qty > available(by_ref[ref])
        ]
        if too_much:
            raise ApiError(409, f"over_{what}", f"more than the remaining quantity ({what})",
                           too_much)
        return clean

    @staticmethod
    def _unallocated(line):
        return line["qty"] - line["allocated_qty"] - line["cancelled_qty"]

    def _default_lines(self, order, available):
        return [
            {"line_ref": line["line_ref"], "sku": line["sku"], "qty": available(line)}
            for line in order["lines"] if available(line) > 0
        ]

    def _recompute_status(self, order):
        if order["status"] == "cancelled":
            return
        total = sum(line["qty"] for line in order["lines"])
        shipped = sum(line["shipped_qty"] for line in order["lines"])
        cancelled = sum(line["cancelled_qty"] for line in order["lines"])
        if cancelled >= total:
            order["status"] = "cancelled"
            order["cancelled_at"] = utc_now_iso()
        elif shipped and shipped + cancelled >= total:
            live = [f for f in order["fulfillments"].values() if f["status"] != "cancelled"]
            arrived = all(f["arrived"] for f in live)
            order["status"] = "delivered" if arrived else "shipped"
        elif shipped:
            order["status"] = "partially_shipped"
        else:
            order["status"] = "accepted"

    def _fulfilment_data(self, order, fulfilment):
        return {
            "order_ref": order["order_ref"],
            "fulfillment_ref": fulfilment["fulfillment_ref"],
            "location_ref": fulfilment["location_ref"],
            "type": fulfilment["type"],
            "lines": [dict(line) for line in fulfilment["lines"]],
            "parcels": [dict(parcel) for parcel in fulfilment["parcels"]],
        }

    def _new_parcels(self, carrier, count=1):
        parcels = []
        for _ in range(count):
            # Deterministic per run: TRK + 10 digits from a counter.
            number = f"TRK{self._next_number('tracking'):010d}"
            parcels.append({
                "carrier": carrier,
                "tracking_number": number,
                "tracking_url": f"https://tracking.example.com/{carrier.lower()}/{number}",
            })
        return parcels

    def fulfil(self, order_ref, body):
        """Emit fulfilment events; see ``POST /_sim/orders/{ref}/fulfil``."""
        with self.lock:
            order = self._order(order_ref)
            if order["status"] == "cancelled":
                raise ApiError(409, "order_cancelled", f"order {order_ref!r} is cancelled")
            events = body.get("events", ["shipped"])
            if (not isinstance(events, list) or not events
                    or any(e not in FULFILMENT_EVENTS for e in events)):
                raise bad_request(f"events must be a non-empty list of {FULFILMENT_EVENTS}",
                                  [{"field": "events", "code": "invalid_value"}])
            carrier = body.get("carrier", "DHL")
            if not isinstance(carrier, str) or not carrier:
                raise bad_request("carrier must be a non-empty string")
            ref = body.get("fulfillment_ref")
            if ref is not None and not isinstance(ref, str):
                raise bad_request("fulfillment_ref must be a string")
            parcels = body.get("parcels")
            if parcels is not None and (
                not isinstance(parcels, list) or not all(isinstance(p, dict) for p in parcels)
            ):
                raise bad_request("parcels must be a list of objects")
            parcel_count = body.get("parcel_count", 1)
            if not is_int(parcel_count) or not 1 <= parcel_count <= 50:
                raise bad_request("parcel_count must be an integer between 1 and 50")
            # Everything is validated above: from here on the order changes.
            fulfilment = order["fulfillments"].get(ref) if ref else None
            if fulfilment is not None:
                # Continue a known fulfilment (e.g. "delivered" after "shipped"):
                # its lines, type and location are already fixed.
                if fulfilment["status"] == "cancelled":
                    raise ApiError(409, "fulfillment_cancelled",
                                   f"fulfilment {ref!r} is cancelled")
            else:
                fulfilment = self._new_fulfilment(order, ref, body)
            if parcels is not None:
                fulfilment["parcels"] = [dict(p) for p in parcels]
            emitted = []
            for name in events:
                if name == "shipped" and not fulfilment["parcels"]:
                    fulfilment["parcels"] = self._new_parcels(carrier, parcel_count)
                if name in LEAVING_EVENTS and not fulfilment["left"]:
                    fulfilment["left"] = True
                    lines = self._line_map(order)
                    for item in fulfilment["lines"]:
                        lines[item["line_ref"]]["shipped_qty"] += item["qty"]
                if name in ARRIVED_EVENTS:
                    fulfilment["arrived"] = True
                fulfilment["status"] = name
                fulfilment["events"].append(name)
                self._recompute_status(order)
                event = self.emit(f"fulfillment.{name}", order_ref,
                                  self._fulfilment_data(order, fulfilment),
                                  correlation_id=order.get("correlation_id"))
                emitted.append(event.summary())
            return {
                "order_ref": order_ref,
                "fulfillment_ref": fulfilment["fulfillment_ref"],
                "order_status": order["status"],
                "events": emitted,
                "parcels": fulfilment["parcels"],
                "tracking_numbers": [p.get("tracking_number") for p in fulfilment["parcels"]],
            }

    def _new_fulfilment(self, order, ref, body):
        kind = body.get("type") or ("pickup" if order["fulfillment_type"] == "pickup" else "ship")
        if kind not in FULFILMENT_TYPES:
            raise bad_request(f"type must be one of {FULFILMENT_TYPES}",
                              [{"field": "type", "code": "invalid_value"}])
        location = (body.get("location_ref")
                    or (order["pickup_location_ref"] if kind == "pickup" else None)
                    or self.auto_fulfil_location)
        raw_lines = body.get("lines")
        if raw_lines is None:
            raw_lines = self._default_lines(order, self._unallocated)
            if not raw_lines:
                raise ApiError(409, "nothing_to_fulfil",
                               f"order {order['order_ref']!r} has no quantity left to fulfil")
        clean = self._parse_lines(order, raw_lines, self._unallocated, "shipment")
        ref = ref or f"FUL-{self._next_number('fulfillment'):06d}"
        for line, qty, _raw in clean:
            line["allocated_qty"] += qty
        fulfilment = {
            "fulfillment_ref": ref,
            "type": kind,
            "location_ref": location,
            "lines": [{"line_ref": line["line_ref"], "sku": line["sku"], "qty": qty}
                      for line, qty, _raw in clean],
            "parcels": [],
            "status": "created",
            "events": [],
            "left": False,
            "arrived": False,
        }
        order["fulfillments"][ref] = fulfilment
        return fulfilment

    def unfulfillable(self, order_ref, body):
        """Emit ``fulfillment.cancelled`` for lines the OMS cannot fulfil."""
        with self.lock:
            order = self._order(order_ref)
            reason = body.get("reason", "out_of_stock")
            ref = body.get("fulfillment_ref")
            existing = order["fulfillments"].get(ref) if ref else None
            if existing is not None:
                # Give up an allocated, not yet shipped fulfilment.
                if existing["left"] or existing["status"] == "cancelled":
                    raise ApiError(409, "fulfillment_closed",
                                   f"fulfilment {ref!r} already left or is cancelled")
                lines = self._line_map(order)
                for item in existing["lines"]:
                    lines[item["line_ref"]]["allocated_qty"] -= item["qty"]
                    lines[item["line_ref"]]["cancelled_qty"] += item["qty"]
                fulfilment = existing
            else:
                raw_lines = body.get("lines")
                if raw_lines is None:
                    raw_lines = self._default_lines(order, self._unallocated)
                    if not raw_lines:
                        raise ApiError(409, "nothing_to_cancel",
                                       f"order {order_ref!r} has no unallocated quantity")
                clean = self._parse_lines(order, raw_lines, self._unallocated, "cancellation")
                for line, qty, _raw in clean:
                    line["cancelled_qty"] += qty
                ref = ref or f"FUL-{self._next_number('fulfillment'):06d}"
                fulfilment = {
                    "fulfillment_ref": ref,
                    "type": body.get("type") or ("pickup" if order["fulfillment_type"] == "pickup"
                                                 else "ship"),
                    "location_ref": body.get("location_ref") or self.auto_fulfil_location,
                    "lines": [{"line_ref": line["line_ref"], "sku": line["sku"], "qty": qty}
                              for line, qty, _raw in clean],
                    "parcels": [],
                    "events": [],
                    "left": False,
                    "arrived": False,
                }
                order["fulfillments"][ref] = fulfilment
            fulfilment["status"] = "cancelled"
            fulfilment["events"].append("cancelled")
            fulfilment["reason"] = reason
            self._recompute_status(order)
            data = self._fulfilment_data(order, fulfilment)
            data["reason"] = reason
            event = self.emit("fulfillment.cancelled", order_ref, data,
                              correlation_id=order.get("correlation_id"))
            return {"order_ref": order_ref, "fulfillment_ref": ref,
                    "order_status": order["status"], "events": [event.summary()]}

    def register_return(self, order_ref, body):
        """Emit ``return.received``; lines default to everything shipped."""
        with self.lock:
            order = self._order(order_ref)
            channel = body.get("channel", "store")
            return_ref = body.get("return_ref") or f"RET-{self._next_number('return'):06d}"
            if any(r["return_ref"] == return_ref for r in order["returns"]):
                raise ApiError(409, "duplicate_return", f"return {return_ref!r} already exists")

            def returnable(line):
                return line["shipped_qty"] - line["returned_qty"]

            raw_lines = body.get("lines")
            if raw_lines is None:
                raw_lines = self._default_lines(order, returnable)
                if not raw_lines:
                    raise ApiError(409, "nothing_to_return",
                                   f"order {order_ref!r} has nothing shipped to return")
            clean = self._parse_lines(order, raw_lines, returnable, "return")
            check = Checker()
            lines = []
            for index, (line, qty, raw) in enumerate(clean):
                prefix = f"lines[{index}]."
                disposition = check.choice(raw, "disposition", DISPOSITIONS, prefix, "restock")
                refund = raw.get("refund")
                if refund is None:
                    refund = {"amount": line["unit_price"] * qty, "currency": order["currency"]}
                elif isinstance(refund, dict):
                    check.integer(refund, "amount", f"{prefix}refund.", money=True)
                    check.currency(refund, "currency", f"{prefix}refund.")
                else:
                    check.add(f"{prefix}refund", "invalid_type", "must be {amount, currency}")
                lines.append({
                    "line_ref": line["line_ref"],
                    "sku": line["sku"],
                    "qty": qty,
                    "reason": raw.get("reason", "customer_return"),
                    "disposition": disposition,
                    "refund": refund,
                })
            check.raise_if_any("invalid return lines")
            for line, qty, _raw in clean:
                line["returned_qty"] += qty
            data = {"return_ref": return_ref, "order_ref": order_ref, "channel": channel,
                    "lines": lines}
            order["returns"].append(dict(data, received_at=utc_now_iso()))
            event = self.emit("return.received", order_ref, data,
                              correlation_id=order.get("correlation_id"))
            return {"order_ref": order_ref, "return_ref": return_ref,
                    "events": [event.summary()]}

    def cancel_event(self, order_ref, body):
        """Emit ``order.cancelled`` (the OMS cancels on its own)."""
        with self.lock:
            order = self._order(order_ref)
            reason = body.get("reason", "cancelled_by_oms")
            shipped = any(line["shipped_qty"] for line in order["lines"])
            if shipped and not body.get("force"):
                raise ApiError(409, "already_shipped",
                               "the order has shipped lines (pass force: true to emit anyway)")
            self._cancel(order, reason)
            data = {"order_ref": order_ref, "oms_order_id": order["oms_order_id"],
                    "reason": reason, "cancelled_at": order["cancelled_at"]}
            event = self.emit("order.cancelled", order_ref, data,
                              correlation_id=order.get("correlation_id"))
            return {"order_ref": order_ref, "order_status": order["status"],
                    "events": [event.summary()]}

    def raw_event(self, body):
        """Emit an arbitrary event, or re-deliver a known one (``repeat``)."""
        with self.lock:
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
            order_ref = check.string(body, "order_ref", required=False)
            sequence = check.integer(body, "sequence", required=False, minimum=0)
            event_id = check.string(body, "id", required=False)
            data = body.get("data", {})
            if not isinstance(data, dict):
                check.add("data", "invalid_type", "must be an object")
            check.raise_if_any("invalid event")
            if order_ref and "order_ref" not in data:
                data = {"order_ref": order_ref, **data}
            subject = order_ref or data.get("order_ref") or event_type
            event = self.emit(event_type, subject, data, sequence=sequence, event_id=event_id)
            return {"repeated": False, "events": [event.summary()]}

    # ------------------------------------------------------------------
    # Auto-fulfil
    # ------------------------------------------------------------------

    def _schedule_auto_fulfil(self, order_ref):
        timer = threading.Timer(self.auto_fulfil_delay, self._auto_fulfil, args=(order_ref,))
        timer.daemon = True
        self._timers.add(timer)
        timer.start()

    def _auto_fulfil(self, order_ref):
        try:
            with self.lock:
                order = self.orders.get(order_ref)
                if order is None or order["status"] == "cancelled" or self._stopping.is_set():
                    return
                pickup = order["fulfillment_type"] == "pickup"
                events = ["accepted", "ready_for_pickup" if pickup else "shipped"]
                location = (order["pickup_location_ref"] if pickup else None) \
                    or self.auto_fulfil_location
                try:
                    self.fulfil(order_ref, {"events": events, "location_ref": location})
                except ApiError:
                    return  # nothing left to fulfil: the test already did it
                self._save_state_file()
        finally:
            with self.lock:
                self._timers.discard(threading.current_thread())

    def has_pending_work(self):
        with self.lock:
            return bool(self._timers)

    def _cancel_timers(self):
        for timer in list(self._timers):
            timer.cancel()
        self._timers.clear()

    def on_stop(self):
        with self.lock:
            self._cancel_timers()

    # ------------------------------------------------------------------
    # /_sim/ control routes
    # ------------------------------------------------------------------

    def ctl_orders(self, request):
        with self.lock:
            return {"orders": list(self.orders.values()), "orders_created": self.orders_created}

    def ctl_order(self, request):
        with self.lock:
            return self._order(request.params["order_ref"])

    def ctl_inventory(self, request):
        with self.lock:
            return {
                "levels": self._levels(request.query_value("sku"),
                                       request.query_value("location_ref")),
                "totals": dict(self.inventory_totals),
            }

    def ctl_products(self, request):
        sku = request.query_value("sku")
        with self.lock:
            products = [p for s, p in sorted(self.products.items()) if sku is None or s == sku]
            return {"products": products, "totals": dict(self.product_totals)}

    def ctl_fulfil(self, request):
        return self.fulfil(request.params["order_ref"], request.json_object(optional=True))

    def ctl_unfulfillable(self, request):
        return self.unfulfillable(request.params["order_ref"], request.json_object(optional=True))

    def ctl_return(self, request):
        return self.register_return(request.params["order_ref"],
                                    request.json_object(optional=True))

    def ctl_cancel_event(self, request):
        return self.cancel_event(request.params["order_ref"], request.json_object(optional=True))

    def ctl_events(self, request):
        return self.raw_event(request.json_object())


def main(argv=None):
    parser = build_arg_parser(
        prog="python -m simulators.oms",
        description="OMS reference simulator (partner side of the oms contract).",
        default_port=DEFAULT_PORT,
    )
    parser.add_argument("--auto-fulfil", action="store_true",
                        help="accept and ship (or ready for pickup) every new order")
    parser.add_argument("--auto-fulfil-delay", type=float, default=1.0,
                        help="seconds between order creation and auto-fulfil (default 1)")
    parser.add_argument("--auto-fulfil-location", default="WH",
                        help="location_ref of auto-fulfilments (default WH)")
    args = parser.parse_args(argv)
    try:
        simulator = OmsSimulator(
            args.host, args.port, api_key=args.api_key, webhook_url=args.webhook_url,
            webhook_secret=args.webhook_secret, seed=args.seed, state_file=args.state_file,
            verbose=args.verbose, auto_fulfil=args.auto_fulfil,
            auto_fulfil_delay=args.auto_fulfil_delay,
            auto_fulfil_location=args.auto_fulfil_location,
        )
    except (OSError, ValueError) as exc:
        parser.error(str(exc))
    return serve_until_signal(simulator)


if __name__ == "__main__":
    sys.exit(main())
