# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import models

from odoo.addons.retail_integration_base.services import errors

from ..services import parsers
from .retail_flow import RetailFlow

MAX_PAGES = 10000
MAX_LISTED_ERRORS = 20


class RetailExchange(models.Model):
    _inherit = "retail.exchange"

    def _retail_handle_settlement_import(self, payload):
        """Import one payout: from the provider API (every page of its lines)
        or from an uploaded file. The same payout twice changes nothing; a
        malformed row refuses the file or lands as an exception line, as the
        backend's policy says."""
        backend = self.backend_id
        if payload.get("source") == "api":
            header = payload["header"]
            payout = parsers.parse_api(header, self._settlement_fetch_pages(header))
            layout, filename, content_hash = "api", None, None
        else:
            content = payload.get("content") or ""
            try:
                layout, payout = parsers.parse_file(content, payload.get("layout") or None)
            except parsers.FileError as exc:
                raise errors.RetailIntegrationError(
                    self.env._("%(file)s refused: %(error)s", file=payload.get("filename"),
                               error=exc), errors.VALIDATION) from exc
            filename, content_hash = payload.get("filename"), parsers.content_hash(content)
        if payout.errors and backend.settlement_malformed_policy == "refuse":
            listed = payout.errors[:MAX_LISTED_ERRORS]
            raise errors.RetailIntegrationError(
                self.env._("%(what)s refused: %(n)s malformed row(s), nothing imported.\n"
                           "%(rows)s", what=filename or payout.payout_ref,
                           n=len(payout.errors),
                           rows="\n".join(str(e) for e in listed)
                           + ("\n…" if len(payout.errors) > len(listed) else "")),
                errors.VALIDATION,
                details=[{"row": e.row, "error": e.message} for e in listed])
        Batch = self.env["retail.settlement.batch"]
        batch, created = Batch._settlement_import(
            backend, payout, "api" if layout == "api" else "file", layout, filename=filename,
            content_hash=content_hash, exchange=self)
        self.sudo().write({"res_model": batch._name, "res_id": batch.id,
                           "external_ref": batch.payout_ref})
        if not created:
            return self.env._("Already imported as %s: nothing changed.", batch.name)
        return self.env._("%(batch)s: %(n)s lines, %(matched)s matched, %(exceptions)s "
                          "exception(s).", batch=batch.name, n=batch.line_count,
                          matched=batch.matched_count, exceptions=batch.exception_count)

    def _settlement_fetch_pages(self, header):
        pages, cursor = [], None
        for _page in range(MAX_PAGES):
            result = self._send("GET", RetailFlow._settlement_lines_path(
                header["payout_ref"], cursor))
            body = result.body or {}
            if body.get("revision", header.get("revision")) != header.get("revision", 1):
                raise errors.RetailIntegrationError(self.env._(
                    "Payout %s was re-issued while it was read; the next run takes the new "
                    "revision.", header["payout_ref"]), errors.BUSINESS)
            pages.append(body.get("lines") or [])
            cursor = body.get("next_cursor")
            if not cursor:
                return pages
        raise errors.RetailIntegrationError(
            self.env._("Payout %(payout)s has more than %(max)s pages.",
                       payout=header["payout_ref"], max=MAX_PAGES),
            errors.VALIDATION)

    def _retail_handle_settlement_match(self, payload):
        """Retry of a settlement exception: match the batch again, after the
        data was fixed (an order or credit note created, a reference
        corrected, a posted revision reversed)."""
        Batch = self.env["retail.settlement.batch"]
        batch = Batch.browse(payload.get("batch_id")).exists()
        if not batch:
            raise errors.RetailIntegrationError(self.env._("The batch was deleted."),
                                                errors.VALIDATION)
        if batch.state == "superseded":
            return self.env._("%s was superseded by a re-issue.", batch.name)
        if batch.state in ("posted", "reversed"):
            return self.env._("%(batch)s is already %(state)s.", batch=batch.name,
                              state=batch.state)
        batch._settlement_match()
        line = self.env["retail.settlement.line"].browse(payload.get("line_id")).exists()
        if line and line.state == "exception":
            raise errors.RetailIntegrationError(
                line.exception_reason,
                errors.VALIDATION if line.exception_kind == "malformed" else errors.BUSINESS)
        if not line and batch.problem:
            raise errors.BusinessRuleError(batch.problem)
        return self.env._("%(batch)s matched again: %(state)s.", batch=batch.name,
                          state=batch.state)
