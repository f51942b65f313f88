# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import timedelta
import json
import uuid

from odoo import fields, models

from odoo.addons.retail_integration_base.services import errors

# The platform's ledger entries that Odoo posts (and so must also have).
POSTED_TYPES = ("earn", "reversal", "redeem")


class RetailFlow(models.Model):
    _inherit = "retail.flow"

    # Business KPIs of the loyalty posting flow on the dashboard card.
    stat_loyalty_posted_rate = fields.Float(
        string="Loyalty posts completed (24h, %)", compute="_compute_loyalty_kpis")
    stat_loyalty_waiting = fields.Integer(
        string="Posts waiting for the platform", compute="_compute_loyalty_kpis")
    stat_loyalty_failed = fields.Integer(string="Loyalty posts failed (24h)",
                                         compute="_compute_loyalty_kpis")

    def _compute_loyalty_kpis(self):
        since = fields.Datetime.now() - timedelta(hours=24)
        Txn = self.env["retail.loyalty.transaction"].sudo()
        for flow in self:
            rate, waiting, failed = 0.0, 0, 0
            if flow.id and flow.code == "loyalty_posting":
                counts = dict(Txn._read_group(
                    [("backend_id", "=", flow.backend_id.id), ("create_date", ">=", since),
                     ("type", "in", ("earn", "reversal"))], ["state"], ["__count"]))
                total = sum(counts.values())
                rate = 100.0 * counts.get("posted", 0) / total if total else 100.0
                waiting = Txn.search_count([("backend_id", "=", flow.backend_id.id),
                                            ("state", "in", ("queued", "deferred", "offline"))])
                failed = counts.get("failed", 0)
            flow.update({"stat_loyalty_posted_rate": rate, "stat_loyalty_waiting": waiting,
                         "stat_loyalty_failed": failed})

    def _retail_batch_loyalty_ledger_compare(self):
        """Nightly: compare the ledger of each member touched in the last day
        with the platform's. Each member that differs becomes one exception
        (``business``) that says which entries differ."""
        backend = self.backend_id
        since = fields.Datetime.now() - timedelta(days=1)
        Txn = self.env["retail.loyalty.transaction"].sudo()
        touched = Txn.search([("backend_id", "=", backend.id), ("write_date", ">=", since)])
        Exchange = self.env["retail.exchange"].sudo()
        today = fields.Date.today().isoformat()
        differing = 0
        in_flight = set(Txn.search([("backend_id", "=", backend.id),
                                    ("state", "in", ("queued", "deferred"))])
                        .mapped("member_ref"))
        for member_ref in sorted(set(touched.mapped("member_ref")) - in_flight):
            # Members with posts in flight are compared on the next run, once
            # their posts are settled (otherwise the race is the difference).
            exchange = Exchange._record_outbound(
                backend, self, f"ledger:{today}:{member_ref}:{uuid.uuid4().hex[:8]}",
                record=touched.filtered(lambda t, m=member_ref: t.member_ref == m)[:1].partner_id,
                external_ref=member_ref)
            try:
                body = exchange._send("GET", f"/v1/members/{member_ref}/transactions").body or {}
            except errors.RetailIntegrationError as exc:
                exchange.write({"state": "failed", "attempts": 1,
                                "failure_class": exc.failure_class, "error": exc.message})
                continue
            local = Txn.search([("backend_id", "=", backend.id), ("member_ref", "=", member_ref),
                                ("state", "in", ("posted", "confirmed"))])
            problems = _compare(local, body.get("transactions") or [])
            values = {"attempts": 1, "processed_at": fields.Datetime.now(),
                      "payload": json.dumps({"differences": problems}, indent=1)}
            if problems:
                differing += 1
                values.update(state="failed", failure_class=errors.BUSINESS, error=self.env._(
                    "Ledger of member %(member)s differs from the loyalty platform:\n%(lines)s",
                    member=member_ref, lines="\n".join(p["message"] for p in problems)))
            else:
                values.update(state="done")
            exchange.write(values)
        return self.env._("%(n)s members compared, %(d)s differ, %(w)s with posts in flight "
                          "left for the next run.",
                          n=len(set(touched.mapped("member_ref")) - in_flight), d=differing,
                          w=len(set(touched.mapped("member_ref")) & in_flight))


def _compare(local, remote):
    """Differences between Odoo's posted entries and the platform's ledger."""
    problems = []
    remote = [t for t in remote if t.get("type") in POSTED_TYPES]
    by_ref = {t.get("txn_ref"): t for t in remote}
    known = set()
    for txn in local:
        ref = txn.txn_ref
        known.add(ref)
        entry = by_ref.get(ref)
        if not entry:
            problems.append({"txn_ref": ref, "kind": "missing_on_platform",
                             "message": f"{txn.name} ({ref or 'no reference'}, {txn.points} "
                                        f"points) is not on the platform."})
        elif int(entry.get("points") or 0) != txn.points:
            problems.append({"txn_ref": ref, "kind": "points_differ",
                             "message": f"{txn.name} ({ref}): {txn.points} points in Odoo, "
                                        f"{entry.get('points')} on the platform."})
    for entry in remote:
        if entry.get("txn_ref") not in known:
            problems.append({"txn_ref": entry.get("txn_ref"), "kind": "unknown_to_odoo",
                             "message": f"{entry.get('type')} {entry.get('txn_ref')} "
                                        f"({entry.get('points')} points, order "
                                        f"{entry.get('order_ref') or '-'}) is not in Odoo's "
                                        f"ledger."})
    return problems
