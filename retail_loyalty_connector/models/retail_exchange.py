# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import models

from odoo.addons.retail_integration_base.services import errors

from .retail_backend import DEFER_SECONDS, POSTING


class PlatformUnavailable(errors.RateLimitDeferred):
    """The platform did not answer: wait, without spending an attempt."""

    def __init__(self, seconds, reason):
        super().__init__(seconds)
        self.args = (f"platform unavailable ({reason}); next try in {seconds:.0f}s",)


class RetailExchange(models.Model):
    _inherit = "retail.exchange"

    def _enqueue(self, delay=None, rebuild=True, replay=False):
        # Accruals and reversals are sent by the backend's ordered drainer,
        # never by a job of their own that could overtake an earlier post.
        posting = self.filtered(lambda e: e.flow_id.code == POSTING)
        for backend in posting.backend_id:
            backend._loyalty_enqueue_posting(delay=delay)
        return super(RetailExchange, self - posting)._enqueue(
            delay=delay, rebuild=rebuild, replay=replay)

    def _loyalty_txn(self):
        txn = self._linked_record()
        if not txn or txn._name != "retail.loyalty.transaction":
            raise errors.RetailIntegrationError(
                self.env._("This message is not linked to a loyalty transaction."),
                errors.VALIDATION)
        return txn.sudo()

    # ------------------------------------------------------------ enrollment

    def _retail_build_loyalty_enroll(self):
        partner = self._linked_record()
        if not partner:
            raise errors.RetailIntegrationError(
                self.env._("The customer to enroll no longer exists."), errors.VALIDATION)
        return partner._loyalty_member_payload()

    def _retail_handle_loyalty_enroll(self, payload):
        """Enroll, or link the member the platform already has (409): one
        member per person, never a duplicate; two partners claiming one
        member is a conflict a person resolves."""
        partner = self._linked_record()
        if partner.retail_loyalty_member_ref:
            return self.env._("%s is already a member.", partner.display_name)
        result = self.backend_id._http_send("POST", "/v1/members", payload=payload, exchange=self)
        if result.status == 409:
            details = result.error_payload().get("details") or [{}]
            member_ref = details[0].get("member_ref")
            if not member_ref:
                result.raise_for_failure()
            # Read without overwriting this message's 409: the audit shows why.
            member = self.backend_id._http_send(
                "GET", f"/v1/members/{member_ref}").raise_for_failure().body or {}
            partner._loyalty_link(self.backend_id, member, self)
            return self.env._("%(partner)s linked to existing member %(ref)s (same %(field)s).",
                              partner=partner.display_name, ref=member_ref,
                              field=details[0].get("field") or "email or phone")
        result.raise_for_failure()
        partner._loyalty_link(self.backend_id, result.body or {}, self)
        return self.env._("%(partner)s enrolled as %(ref)s.", partner=partner.display_name,
                          ref=(result.body or {}).get("member_ref"))

    def _retail_handle_loyalty_member_refresh(self, payload):
        partner = self._linked_record()
        member_ref = partner.retail_loyalty_member_ref
        if not member_ref:
            raise errors.RetailIntegrationError(
                self.env._("%s is not a loyalty member.", partner.display_name), errors.VALIDATION)
        member = self._send("GET", f"/v1/members/{member_ref}").body or {}
        partner._loyalty_apply_member(member)
        return self.env._("%s refreshed.", partner.display_name)

    # ----------------------------------------------------------- redemptions

    # What is sent is rebuilt from the ledger entry at each try (a Retry
    # after a fix sends fresh data); these payloads are also the audit trail.

    def _retail_build_loyalty_redemption(self):
        txn = self._loyalty_txn()
        return {"member_ref": txn.member_ref, "order_ref": txn.order_id.name,
                "points": txn.requested_points}

    def _retail_build_loyalty_redemption_confirm(self):
        return {"redemption_ref": self._loyalty_txn().platform_ref}

    def _retail_build_loyalty_redemption_release(self):
        return {"redemption_ref": self._loyalty_txn().platform_ref}

    def _retail_build_loyalty_member_refresh(self):
        return {"member_ref": self._linked_record().retail_loyalty_member_ref}

    def _retail_handle_loyalty_redemption(self, payload):
        """Reconcile a redemption granted offline: hold, then confirm."""
        txn = self._loyalty_txn()
        if txn.state != "offline":
            return self.env._("Nothing to reconcile: the redemption is %s.", txn.state)
        body = self._send("POST", "/v1/redemptions", payload).body or {}
        txn.write({"platform_ref": body.get("redemption_ref"), "state": "held",
                   "hold_expires_at": False})
        # Each call is its own operation: its own idempotency key.
        if txn.order_id.state == "sale":
            confirm = self._loyalty_follow_up("confirm", txn).body
            txn._set_state("confirmed", txn_ref=(confirm or {}).get("txn_ref"),
                           points=-int(body.get("points") or txn.requested_points), error=False)
        elif txn.order_id.state == "cancel":
            self._loyalty_follow_up("release", txn)
            txn._set_state("released")
        return self.env._("Offline redemption of %s reconciled.", txn.order_id.name)

    def _loyalty_follow_up(self, action, txn):
        return self.backend_id._http_send(
            "POST", f"/v1/redemptions/{txn.platform_ref}/{action}", payload={},
            extra_headers={"Idempotency-Key": f"{self.idempotency_key}:{action}",
                           "X-Correlation-ID": self.correlation_id}).raise_for_failure()

    def _retail_handle_loyalty_redemption_confirm(self, payload):
        txn = self._loyalty_txn()
        if txn.state == "confirmed":
            return self.env._("Already confirmed.")
        result = self._send("POST", f"/v1/redemptions/{txn.platform_ref}/confirm", {})
        txn._set_state("confirmed", txn_ref=(result.body or {}).get("txn_ref"), error=False)
        return self.env._("Redemption on %s confirmed.", txn.order_id.name)

    def _retail_handle_loyalty_redemption_release(self, payload):
        txn = self._loyalty_txn()
        result = self.backend_id._http_send(
            "POST", f"/v1/redemptions/{txn.platform_ref}/release", payload={}, exchange=self)
        code = result.error_payload().get("code")
        if code == "redemption_confirmed":
            # Confirmed meanwhile (a confirmation that won the race): give the points back.
            txn._set_state("confirmed")
            txn._loyalty_reverse_redemption()
            return self.env._("Already confirmed: the points are given back by a reversal.")
        if code == "hold_expired":
            return self.env._("The hold had expired: nothing to release.")
        result.raise_for_failure()
        return self.env._("Hold released.")

    # --------------------------------------------------------------- posting

    def _retail_build_loyalty_posting(self):
        txn = self._loyalty_txn()
        if txn.type == "reversal" and not txn.reverses_id.txn_ref:
            raise errors.BusinessRuleError(self.env._(
                "The transaction %(txn)s reverses is not posted on the platform (%(state)s): "
                "post it first, then retry.", txn=txn.reverses_id.display_name,
                state=txn.reverses_id.state))
        return txn._loyalty_payload()

    def _retail_handle_loyalty_posting(self, payload):
        """Post one accrual or reversal; an outage defers it, in order."""
        txn = self._loyalty_txn()
        backend = self.backend_id
        result = backend._http_send("POST", "/v1/transactions", payload=payload, exchange=self)
        if result.failure_class == errors.TRANSIENT:
            # Not an attempt: the platform is down, the message waits its turn
            # (the drainer records the outage, outside this rolled-back step).
            raise PlatformUnavailable(DEFER_SECONDS, result.error)
        if result.status == 409 and result.error_payload().get("code") == "duplicate_transaction":
            details = result.error_payload().get("details") or [{}]
            if details[0].get("txn_ref"):
                # Posted before under another key (e.g. a restored database):
                # the platform's ledger entry is the one we record.
                txn._set_state("posted", txn_ref=details[0]["txn_ref"],
                               points=int(details[0].get("points") or txn.points), error=False)
                return self.env._("Already on the platform as %s.", details[0]["txn_ref"])
        result.raise_for_failure()
        body = result.body or {}
        txn._set_state("posted", txn_ref=body.get("txn_ref"), points=int(body.get("points") or 0),
                       error=False)
        if backend.loyalty_unavailable_since:
            backend._loyalty_set_available()
        return self.env._("%(type)s posted: %(points)s points.", type=txn.type,
                          points=body.get("points"))

    # -------------------------------------------------- exception queue hooks

    def _retail_failed_loyalty_posting(self):
        self._loyalty_txn()._set_state("failed", error=self.error)

    def _retail_failed_loyalty_redemption_confirm(self):
        txn = self._loyalty_txn()
        txn._set_state("expired" if self.http_status == 409 else "failed", error=self.error)
        txn.order_id.message_post(body=self.env._(
            "The loyalty platform did not confirm the redemption of %(points)s points "
            "(%(error)s). The order has a discount that no redemption covers: see the "
            "exception queue.", points=txn.requested_points, error=self.error))

    def _retail_failed_loyalty_redemption(self):
        txn = self._loyalty_txn()
        txn._set_state("failed", error=self.error)
        txn.order_id.message_post(body=self.env._(
            "The redemption of %(points)s points granted while the loyalty platform was "
            "unavailable was refused once it was back (%(error)s): see the exception queue.",
            points=txn.requested_points, error=self.error))

    # ---------------------------------------------------------------- events

    def _retail_handle_loyalty_member_events(self, payload):
        """member.updated / member.tier_changed / points.expired: refresh the
        partner, newest first wins (a stale event changes nothing)."""
        data = payload.get("data") or {}
        member_ref = data.get("member_ref")
        if not member_ref:
            raise errors.RetailIntegrationError(
                self.env._("A member event without member_ref."), errors.VALIDATION)
        partner = self.env["retail.binding"]._find_record(
            self.backend_id, "res.partner", member_ref)
        if not partner:
            return self.env._("Member %s is not linked to a customer in Odoo: nothing to do.",
                              member_ref)
        binding = self.env["retail.binding"]._find(self.backend_id, partner)
        if not binding._accept_sequence(payload.get("sequence")):
            return self.env._("Ignored: stale event (sequence %s).", payload.get("sequence"))
        partner.sudo()._loyalty_apply_member(data)
        if payload.get("type") == "member.tier_changed":
            partner.sudo().message_post(body=self.env._(
                "Loyalty tier changed from %(old)s to %(new)s.",
                old=data.get("old_tier") or "-", new=data.get("tier")))
        return self.env._("%(partner)s updated from %(type)s.", partner=partner.display_name,
                          type=payload.get("type"))
