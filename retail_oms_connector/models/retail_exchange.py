# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import models

from odoo.addons.retail_integration_base.services import errors

from ..services.payloads import content_hash
from .retail_oms_fulfillment import RANK, SHIPPED_RANK


class RetailExchange(models.Model):
    _inherit = "retail.exchange"

    # ------------------------------------------------------------ cancellation

    def _oms_change_order(self, path, body, refusal):
        """Send a change of an exported order. A 409 means the OMS went on
        without it (shipped, allocated): a business exception whose message
        (``refusal`` with ``%(order)s`` and ``%(error)s``) says what to do."""
        try:
            return self._send("POST", path, body)
        except errors.RetailIntegrationError as exc:
            if exc.http_status == 409:
                order_ref = path.split("/")[3]
                raise errors.BusinessRuleError(
                    refusal % {"order": order_ref, "error": exc.message}) from exc
            raise

    def _retail_handle_oms_order_cancel(self, payload):
        """Cancel in the OMS; a 409 means it shipped meanwhile: a person decides."""
        self._oms_change_order(
            f"/v1/orders/{payload['order_ref']}/cancel", {"reason": payload.get("reason")},
            self.env._("The OMS refused to cancel %(order)s: it already shipped (%(error)s). "
                       "The order is cancelled in Odoo only: record a return or reopen it."))
        order = self._linked_record()
        if order:
            self.env["retail.binding"]._touch(
                self.backend_id, order, "synced", self, external_state="cancelled")
        return self.env._("%s cancelled in the OMS.", payload["order_ref"])

    def _retail_handle_oms_order_update(self, payload):
        """Reduced quantities; a 409 means the OMS already allocated them."""
        self._oms_change_order(
            f"/v1/orders/{payload['order_ref']}/lines",
            {"lines": payload["lines"], "reason": payload.get("reason")},
            self.env._("The OMS refused to reduce %(order)s: %(error)s. Odoo's order is "
                       "reduced; agree with the OMS team (cancel the fulfillment or restore "
                       "the quantity)."))
        return self.env._("%s: quantities updated in the OMS.", payload["order_ref"])

    # ------------------------------------------------------- fulfillment events

    def _retail_handle_oms_fulfillment_events(self, payload):
        """Apply one fulfillment event of the OMS to the order and its deliveries.

        Exactly once and never backwards: each fulfillment keeps the rank it
        reached; a duplicate or a late event (``shipped`` after ``delivered``)
        is acknowledged and ignored, and the first event that means the goods
        left (``shipped``, ``picked_up`` or ``delivered``) validates the
        shipped quantities, whatever came before it.
        """
        data = payload.get("data") or {}
        if payload.get("type") == "order.cancelled":
            return self._oms_apply_order_cancelled(self._oms_order(data.get("order_ref")), data)
        event = (payload.get("type") or "").partition(".")[2]
        if event == "cancelled" and data.get("fulfillment_ref"):
            return self._oms_apply_unfulfillable(self._oms_order(data.get("order_ref")), data)
        if event not in RANK or not data.get("fulfillment_ref"):
            raise errors.RetailIntegrationError(
                self.env._("Not a fulfillment event: %s", payload.get("type")),
                errors.VALIDATION)
        order = self._oms_order(data.get("order_ref"))
        Fulfillment = self.env["retail.oms.fulfillment"].sudo()
        fulfillment = Fulfillment.search([
            ("backend_id", "=", self.backend_id.id),
            ("fulfillment_ref", "=", data["fulfillment_ref"])])
        if fulfillment and fulfillment.order_id != order:
            raise errors.BusinessRuleError(self.env._(
                "Fulfillment %(ref)s belongs to %(order)s, not %(other)s.",
                ref=fulfillment.fulfillment_ref, order=fulfillment.order_id.name,
                other=order.name))
        if fulfillment and RANK[event] <= fulfillment.rank:
            return self.env._("Ignored: fulfillment %(ref)s is already %(state)s.",
                              ref=fulfillment.fulfillment_ref, state=fulfillment.state)
        if not fulfillment:
            fulfillment = Fulfillment.create({
                "backend_id": self.backend_id.id, "order_id": order.id,
                "fulfillment_ref": data["fulfillment_ref"], "state": event, "rank": 0,
                "fulfillment_type": data.get("type") or "ship",
                "location_ref": data.get("location_ref")})
        parcels = data.get("parcels") or []
        values = {"state": event, "rank": RANK[event], "last_exchange_id": self.id}
        if parcels:
            values["tracking_numbers"] = ", ".join(
                p["tracking_number"] for p in parcels if p.get("tracking_number"))
            values["carrier"] = parcels[0].get("carrier")
        if RANK[event] >= SHIPPED_RANK > fulfillment.rank:
            source = self._oms_source_location(fulfillment)
            values["picking_ids"] = [(6, 0, self._oms_apply_shipment(
                order, data.get("lines") or [], values, source).ids)]
        fulfillment.write(values)
        order._retail_oms_update_state(event)
        return self.env._("%(order)s: fulfillment %(ref)s %(state)s.", order=order.name,
                          ref=fulfillment.fulfillment_ref, state=event)

    def _oms_apply_unfulfillable(self, order, data):
        """Lines the OMS cannot fulfil: reduce what Odoo still has to deliver,
        as a short delivery would, and tell the salesperson on the order."""
        Fulfillment = self.env["retail.oms.fulfillment"].sudo()
        fulfillment = Fulfillment.search([
            ("backend_id", "=", self.backend_id.id),
            ("fulfillment_ref", "=", data["fulfillment_ref"])])
        if fulfillment.state == "cancelled":
            return self.env._("Ignored: fulfillment %s is already cancelled.",
                              fulfillment.fulfillment_ref)
        if fulfillment.rank >= SHIPPED_RANK:
            raise errors.BusinessRuleError(self.env._(
                "The OMS cancelled fulfillment %(ref)s after it shipped.",
                ref=fulfillment.fulfillment_ref))
        done = []
        for sale_line, item in self._oms_order_lines(order, data.get("lines")):
            quantity = float(item.get("qty") or 0)
            moves = sale_line.move_ids.filtered(
                lambda m: m.picking_code == "outgoing" and m.state not in ("done", "cancel"))
            for move in moves.sorted("id", reverse=True):
                if quantity <= 0:
                    break
                take = min(quantity, move.product_uom_qty)
                if take >= move.product_uom_qty:
                    move._action_cancel()
                else:
                    move._do_unreserve()
                    move.product_uom_qty -= take
                    move._action_assign()
                quantity -= take
            done.append(f"{float(item.get('qty') or 0) - max(quantity, 0):g} x "
                        f"{sale_line.product_id.display_name}")
        values = {"state": "cancelled", "rank": 0, "reason": data.get("reason"),
                  "last_exchange_id": self.id}
        if fulfillment:
            fulfillment.write(values)
        else:
            Fulfillment.create(dict(values, backend_id=self.backend_id.id, order_id=order.id,
                                    fulfillment_ref=data["fulfillment_ref"],
                                    location_ref=data.get("location_ref")))
        order.message_post(body=self.env._(
            "The OMS cannot fulfil %(lines)s (%(reason)s): removed from what is left to "
            "deliver.", lines=", ".join(done), reason=data.get("reason") or "no reason given"))
        order._retail_oms_update_state("shipped" if order.picking_ids.filtered(
            lambda p: p.state == "done") else "accepted")
        return self.env._("%(order)s: %(lines)s cannot be fulfilled.", order=order.name,
                          lines=", ".join(done))

    # ------------------------------------------------------------------ returns

    def _retail_handle_oms_return_events(self, payload):
        """A return the OMS received: goods back, refund ready, exactly once.

        The return may come from another channel than the order's. Restocked
        lines are received back into stock, unusable ones are received and
        scrapped; an invoiced order gets a draft credit note for what came
        back. The same return arriving again changes nothing. Other modules
        react through ``sale.order._retail_oms_returned`` (e.g. loyalty
        reverses points).
        """
        data = payload.get("data") or {}
        if not data.get("return_ref"):
            raise errors.RetailIntegrationError(
                self.env._("A return without return_ref cannot be applied."), errors.VALIDATION)
        order = self._oms_order(data.get("order_ref"))
        Return = self.env["retail.oms.return"].sudo()
        known = Return.search([("backend_id", "=", self.backend_id.id),
                               ("return_ref", "=", data["return_ref"])])
        if known:
            return self.env._("Ignored: return %s was already applied.", known.return_ref)
        quantities, unusable, refund = {}, {}, 0
        for sale_line, item in self._oms_order_lines(order, data.get("lines")):
            qty = float(item.get("qty") or 0)
            if qty > sale_line.qty_delivered - sum(quantities.get(sale_line, [0])):
                raise errors.BusinessRuleError(self.env._(
                    "Return %(ref)s brings back %(qty)s of %(product)s, more than the "
                    "%(delivered)s delivered.", ref=data["return_ref"], qty=qty,
                    product=sale_line.product_id.display_name,
                    delivered=sale_line.qty_delivered))
            quantities.setdefault(sale_line, []).append(qty)
            if item.get("disposition") == "unusable":
                unusable[sale_line] = unusable.get(sale_line, 0.0) + qty
            refund += int((item.get("refund") or {}).get("amount") or 0)
        pickings = self._oms_receive_return(order, {k: sum(v) for k, v in quantities.items()})
        scraps = self._oms_scrap(pickings, unusable)
        credit_notes = self._oms_prepare_refund(
            order, {k: sum(v) for k, v in quantities.items()}, data["return_ref"])
        record = Return.create({
            "backend_id": self.backend_id.id, "order_id": order.id,
            "return_ref": data["return_ref"], "channel": data.get("channel"),
            "picking_ids": [(6, 0, pickings.ids)], "scrap_ids": [(6, 0, scraps.ids)],
            "credit_note_ids": [(6, 0, credit_notes.ids)],
            "refund_amount": refund / 10 ** order.currency_id.decimal_places,
            "currency_id": order.currency_id.id, "last_exchange_id": self.id})
        order._retail_oms_returned(record)
        return self.env._("%(order)s: return %(ref)s received.", order=order.name,
                          ref=record.return_ref)

    def _oms_receive_return(self, order, quantities):
        """Return receipts of the delivered quantities, validated."""
        returns = self.env["stock.picking"]
        todo = dict(quantities)
        for picking in order.picking_ids.filtered(
                lambda p: p.picking_type_code == "outgoing" and p.state == "done"):
            wizard = self.env["stock.return.picking"].sudo().with_context(
                active_id=picking.id, active_model="stock.picking").create(
                {"picking_id": picking.id})
            wanted = False
            for line in wizard.product_return_moves:
                sale_line = line.move_id.sale_line_id
                take = min(todo.get(sale_line, 0.0), line.move_id.quantity)
                line.quantity = take
                if take:
                    todo[sale_line] -= take
                    wanted = True
            if not wanted:
                continue
            returned = wizard._create_return()
            for move in returned.move_ids:
                move.quantity = move.product_uom_qty
                move.picked = True
            returned._action_done()
            returns |= returned
        return returns

    def _oms_scrap(self, pickings, unusable):
        scraps = self.env["stock.scrap"]
        for sale_line, qty in unusable.items():
            move = pickings.move_ids.filtered(lambda m, sl=sale_line: m.sale_line_id == sl)[:1]
            if not move:
                continue
            scrap = self.env["stock.scrap"].sudo().create({
                "product_id": sale_line.product_id.id, "scrap_qty": qty,
                "location_id": move.location_dest_id.id, "origin": move.picking_id.name,
                "company_id": move.company_id.id})
            scrap.do_scrap()  # the goods are there: they just came back
            scraps |= scrap
        return scraps

    def _oms_prepare_refund(self, order, quantities, return_ref):
        """A draft credit note for what came back of an invoiced order.

        Accounting reviews and posts it. Lines invoiced on delivered
        quantities follow Odoo's own flow (the return makes their quantity to
        invoice negative); lines invoiced on ordered quantities get a credit
        note against their invoice, not linked to the order lines, so the
        returned units are never invoiced again.
        """
        Move = self.env["account.move"]
        invoices = order.invoice_ids.filtered(
            lambda m: m.move_type == "out_invoice" and m.state == "posted")
        if not invoices:
            return Move
        order = order.sudo()
        credit_notes = Move
        if any(line.qty_to_invoice < 0 for line in order.order_line):
            credit_notes |= order._create_invoices(final=True).filtered(
                lambda m: m.move_type == "out_refund")
        by_order_policy = {
            line: qty for line, qty in quantities.items()
            if line.product_id.invoice_policy == "order" and line.qty_invoiced > 0}
        if by_order_policy:
            invoice = invoices.sorted("id")[-1]
            credit_notes |= Move.sudo().create({
                "move_type": "out_refund",
                "partner_id": invoice.partner_id.id,
                "invoice_origin": order.name,
                "ref": self.env._("Return %(ref)s of %(order)s", ref=return_ref, order=order.name),
                "reversed_entry_id": invoice.id,
                "currency_id": invoice.currency_id.id,
                "journal_id": invoice.journal_id.id,
                "invoice_line_ids": [(0, 0, {
                    "product_id": line.product_id.id, "quantity": qty,
                    "price_unit": line.price_unit, "discount": line.discount,
                    "tax_ids": [(6, 0, line.tax_id.ids)], "name": line.name,
                }) for line, qty in by_order_policy.items()],
            })
        return credit_notes

    def _oms_apply_order_cancelled(self, order, data):
        """The OMS cancelled the whole order (it routes fulfillment): cancel it
        in Odoo too, without sending the cancellation back."""
        if order.state == "cancel":
            return self.env._("Ignored: %s is already cancelled.", order.name)
        if order.retail_oms_fulfillment_ids.filtered(lambda f: f.rank >= SHIPPED_RANK):
            raise errors.BusinessRuleError(self.env._(
                "The OMS cancelled %s, but Odoo recorded a shipment for it: check with the OMS.",
                order.name))
        order.with_context(retail_oms_cancelled_by_oms=True, disable_cancel_warning=True) \
            ._action_cancel()
        order.message_post(body=self.env._(
            "Cancelled by the OMS (%s).", data.get("reason") or "no reason given"))
        return self.env._("%s cancelled by the OMS.", order.name)

    def _oms_order_lines(self, order, items):
        """``(sale line, item)`` for the OMS's ``[{line_ref, ...}]`` of an order;
        a line_ref that is not one of its lines is a validation error."""
        sale_lines = {str(line.id): line for line in order.order_line}
        pairs = []
        for item in items or []:
            sale_line = sale_lines.get(str(item.get("line_ref")))
            if not sale_line:
                raise errors.RetailIntegrationError(self.env._(
                    "Line %(line)s is not a line of %(order)s.", line=item.get("line_ref"),
                    order=order.name), errors.VALIDATION)
            pairs.append((sale_line, item))
        return pairs

    def _oms_order(self, order_ref):
        order = self.env["sale.order"].sudo().search([
            ("name", "=", order_ref), ("company_id", "=", self.backend_id.company_id.id)],
            limit=1)
        if not order:
            # Events can overtake the export's commit: wait (bounded by the
            # retry policy), then the exception queue.
            raise errors.RetailIntegrationError(
                self.env._("Order %s is not known (yet).", order_ref), errors.TRANSIENT)
        return order

    def _oms_source_location(self, fulfillment):
        """Where the goods left from: the mapped store or warehouse of the
        fulfillment (ship-from-store, pickup), else the delivery's own."""
        ref = fulfillment.location_ref
        required = fulfillment.fulfillment_type in ("ship_from_store", "pickup")
        if not ref:
            return None
        target = self.env["retail.mapping"]._to_odoo(
            self.backend_id, "location", ref, default=None if required else False)
        if target and target._name == "stock.warehouse":
            target = target.lot_stock_id
        return target or None

    def _oms_apply_shipment(self, order, lines, values, source=None):
        """Validate exactly the shipped quantities; what remains is a backorder.

        ``source`` (a stock location) is where the OMS shipped from; a
        delivery planned elsewhere is moved there first (ship-from-store).
        """
        if not lines:
            raise errors.RetailIntegrationError(
                self.env._("A shipment without lines cannot be applied."), errors.VALIDATION)
        shipped = {}
        for sale_line, line in self._oms_order_lines(order, lines):
            shipped[sale_line] = shipped.get(sale_line, 0.0) + float(line.get("qty") or 0)
        pickings = order.picking_ids.filtered(
            lambda p: p.picking_type_code == "outgoing" and p.state not in ("done", "cancel"))
        if source:
            moved = pickings.filtered(
                lambda p: not p.location_id.parent_path or
                not source.parent_path.startswith(p.location_id.parent_path))
            if moved:
                moved.do_unreserve()
                moved.write({"location_id": source.id})
        moves_done = self.env["stock.move"]
        for sale_line, quantity in shipped.items():
            moves = pickings.move_ids.filtered(
                lambda m, sl=sale_line: m.sale_line_id == sl and m.state not in ("done", "cancel"))
            if quantity > sum(moves.mapped("product_uom_qty")) + 1e-6:
                raise errors.BusinessRuleError(self.env._(
                    "The OMS shipped %(qty)s of %(product)s but only %(open)s remain to deliver "
                    "on %(order)s: over-delivery refused.", qty=quantity,
                    product=sale_line.product_id.display_name,
                    open=sum(moves.mapped("product_uom_qty")), order=order.name))
            for move in moves:
                take = min(quantity, move.product_uom_qty)
                move.quantity = take
                move.picked = take > 0
                quantity -= take
                if take:
                    moves_done |= move
        touched = moves_done.picking_id
        for move in touched.move_ids - moves_done:
            move.quantity = 0
        touched.with_context(cancel_backorder=False)._action_done()
        touched.write({"retail_tracking_numbers": values.get("tracking_numbers"),
                       "retail_carrier": values.get("carrier")})
        return touched

    # -------------------------------------------------------------- inventory

    def _retail_handle_oms_inventory_sync(self, payload):
        result = self._send("PUT", "/v1/inventory", payload)
        body = result.body or {}
        return self.env._("%(accepted)s levels accepted, %(stale)s stale.",
                          accepted=body.get("accepted", "?"), stale=body.get("stale", "?"))

    # ----------------------------------------------------------- product push

    def _retail_handle_oms_product_push(self, payload):
        """PUT one batch of products; remember what the OMS now holds."""
        rows = payload.get("products") or []
        result = self._send("PUT", "/v1/products", payload)
        Product = self.env["product.product"].sudo().with_context(active_test=False)
        products = Product.search([("default_code", "in", [r["sku"] for r in rows])])
        by_sku = {p.default_code: p for p in products}
        Binding = self.env["retail.binding"].sudo()
        for row in rows:
            product = by_sku.get(row["sku"])
            if product:
                Binding._touch(self.backend_id, product, "synced", self,
                               external_id=row["sku"], content_hash=content_hash(row))
        return self.env._("%(n)s products accepted by the OMS.",
                          n=(result.body or {}).get("accepted", len(rows)))

    # ------------------------------------------------------------ order export

    def _retail_build_oms_order_export(self):
        order = self._linked_record()
        if not order:
            raise errors.RetailIntegrationError(
                self.env._("The sale order of this exchange no longer exists."), errors.VALIDATION)
        # Access was checked when the order was confirmed; reading it back as
        # superuser spares record rules on every line and product.
        return order.sudo()._retail_oms_order_payload(self.backend_id)

    def _retail_handle_oms_order_export(self, payload):
        order = self._linked_record()
        try:
            result = self._send("POST", "/v1/orders", payload)
            oms_id = (result.body or {}).get("oms_order_id")
        except errors.RetailIntegrationError as exc:
            # The OMS already holds this order (sent under another key):
            # bind to it instead of failing, so a retry never duplicates.
            known = [d.get("oms_order_id") for d in exc.details if isinstance(d, dict)]
            if exc.http_status != 409 or not any(known):
                raise
            oms_id = next(k for k in known if k)
        if not oms_id:
            raise errors.RetailIntegrationError(
                self.env._("The OMS accepted the order without an oms_order_id."), errors.VALIDATION)
        if order:
            self.env["retail.binding"]._touch(
                self.backend_id, order, "synced", self, external_id=oms_id,
                external_state="accepted")
            if not order.retail_oms_state:
                order.sudo().with_context(tracking_disable=True).retail_oms_state = "exported"
        return self.env._("Order %(order)s accepted by the OMS as %(oms)s.",
                 order=payload.get("order_ref"), oms=oms_id)
