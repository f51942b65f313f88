# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The morning after a retailer's day: the provider pays out yesterday's
sales and refunds; Odoo imports, matches and posts the payout.

Each step runs the way it runs in production, so that the scenario checks
the chain a retailer relies on rather than its parts. The payout is created
on the provider (the settlement simulator's ``POST /_sim/payouts``), the
scheduler's cron runs the import flow once it is due, queue_job jobs fetch
and match the payout, and the matched batch is posted by the next scheduled
run (auto-post) or by a user's *Post*. Nothing here calls the matching
functions directly.

Lines match when the orders and credit notes exist in Odoo with the amounts
the provider settles; see :func:`settle_day` for what the caller prepares.
"""

from datetime import datetime, timedelta, timezone
import time
import uuid

import requests

from odoo import SUPERUSER_ID, fields
from odoo.exceptions import UserError

from odoo.addons.retail_integration_base.tests.common import perform_jobs as _perform_jobs
from odoo.addons.retail_settlement.models.retail_backend import IMPORT_FLOW
from odoo.addons.retail_settlement.services import amounts

SIM_TIMEOUT = 30
CRON_XMLID = "retail_integration_base.ir_cron_retail_run_batch_flows"
# Batches that stand for a payout; superseded and reversed ones were replaced
# or undone on purpose.
LIVE_STATES = ("imported", "matched", "exception", "posted")
OPEN_EXCHANGE_STATES = ("failed", "retry")


def settle_day(env, sim_url, backend, orders, refunds, fee_rate_bp=150, run_jobs=None):
    """Next morning: the provider pays out yesterday's sales and refunds.

    ``orders`` (sale.order) become one ``sale`` line each: gross = the
    order's total, merchant reference = its name, PSP reference = its
    ``retail_psp_reference`` when set (the provider assigns one otherwise).
    ``refunds`` are dicts ``{"order", "amount", "ref"}`` (amount in the
    order's currency) that become ``refund`` lines (merchant reference = the
    order's name, refund reference = ``ref``). Each line carries a provider
    fee of ``fee_rate_bp`` basis points of its gross, rounded half up to the
    minor unit.

    What the caller prepares for the lines to match:

    * a sale matches its order by name when the order's ``amount_total``
      is what was paid; invoices are not needed to match, but posting clears
      the customers' open invoices of the matched orders (backend option
      *Reconcile with invoices*), so post the invoices and do not register a
      separate payment on them: the settlement is that payment;
    * a refund matches when a posted (or draft, not cancelled) credit note
      whose number or reference is ``ref`` totals ``amount``; without one
      the line is the module's "refund without an Odoo refund" exception,
      and the batch waits in the exception queue instead of being posted.

    The payout is ONE payout in one currency (the orders' currency). The
    import runs as the scheduler does it: the flow is made due and the cron
    method of batch flows is called as the superuser (the cron's user); it
    runs every due batch flow of the database, not only this backend's.

    ``run_jobs`` performs the pending queue_job jobs: ``RetailTestMixin.run_jobs``
    in tests; in a live run a callable that commits the caller's transaction
    (the job runner only sees committed jobs) and waits until the runner
    drained them. ``None`` performs them in this process and transaction.

    The matched batch is posted by the next scheduled run when the backend
    posts on schedule, else by ``action_post`` in ``env`` (that user needs
    invoicing rights); a batch in exception is left for a person to resolve.

    Returns the report: ``payout_ref``; ``lines`` (sale and refund lines
    sent, the provider's closing transfer line not counted); ``matched``;
    ``exceptions`` (``{"line_ref", "kind", "reason"}``: lines in exception,
    a batch-level problem, an import or posting failure); ``batch_state``
    (None when the payout was not imported); ``posted``;
    ``payout_net_minor`` (what the provider paid to the bank);
    ``posted_net_minor`` (what the entry sent to the bank account, None when
    nothing was posted); ``balanced`` (the entry balances and its net to the
    bank equals the payout, to the cent); ``seconds``.
    """
    started = time.monotonic()
    started_at = fields.Datetime.now()
    backend = backend.with_env(env)
    currency = _payout_currency(backend, orders, refunds)
    lines = [_sale_line(order, fee_rate_bp) for order in orders]
    lines += [_refund_line(refund, fee_rate_bp) for refund in refunds]
    if not lines:
        raise ValueError("Nothing to settle: no paid order and no refund.")
    paid_at = datetime.now(timezone.utc).replace(microsecond=0)
    payout_ref = f"PO-{paid_at:%Y%m%d}-{uuid.uuid4().hex[:8].upper()}"
    response = requests.post(f"{sim_url.rstrip('/')}/_sim/payouts", timeout=SIM_TIMEOUT, json={
        "payout_ref": payout_ref, "paid_at": paid_at.isoformat(), "currency": currency.name,
        "lines": lines})
    response.raise_for_status()
    payout_net = response.json()["net"]

    def perform():
        if run_jobs is None:
            perform_jobs(env)
        else:
            run_jobs()
        env.invalidate_all()  # the jobs may have run in other transactions

    _run_scheduled_import(env, backend, perform)
    batch = _live_batch(env, backend, payout_ref)
    for _tick in range(5):
        if batch:
            break
        # A run that failed (provider down, rate limited) is in the exception
        # queue; the scheduler's next run imports the payout.
        _run_scheduled_import(env, backend, perform)
        batch = _live_batch(env, backend, payout_ref)
    failures = []
    if batch.state == "matched":
        if backend.settlement_auto_post:
            # The scheduled run posts what matched since the previous run.
            _run_scheduled_import(env, backend, perform)
            batch = _live_batch(env, backend, payout_ref)
            if batch.state == "matched":  # the run failed and rolled back
                failures = _run_failures(env, backend, started_at, payout_ref)
        else:
            failures = _post_as_user(batch)
            batch = _live_batch(env, backend, payout_ref)
    if not batch:
        failures = _import_failures(env, backend, payout_ref, started_at)
    posted_net, balanced = _posting_check(batch, payout_net)
    return {
        "payout_ref": payout_ref,
        "lines": len(lines),
        "matched": batch.matched_count,
        "exceptions": _batch_exceptions(batch) + failures,
        "batch_state": batch.state or None,
        "posted": batch.state == "posted",
        "payout_net_minor": payout_net,
        "posted_net_minor": posted_net,
        "balanced": balanced,
        "seconds": round(time.monotonic() - started, 3),
    }


def settlement_invariants(env, backend, report):
    """Check the suite's settlement invariants after :func:`settle_day`.

    * every payout posts to the cent: the report's payout was imported and
      is posted, unless it waits on explained exceptions; every live payout
      of the backend has lines whose net equals the payout, and each posted
      entry balances and sends exactly the payout to the bank;
    * every line is matched or is an explained exception: a line in
      exception has an open message (failed or waiting to retry) with a
      reason in the exception queue; a batch-level problem has one too;
    * the report says what the books say.

    Returns human-readable problems; empty when all hold.
    """
    backend = backend.with_env(env).sudo()  # checks read everything, whatever the caller's rights
    problems = []
    ref = report["payout_ref"]
    batch = _live_batch(backend.env, backend, ref)
    if not batch:
        reasons = [e["reason"] for e in report.get("exceptions", ())]
        problems.append(f"Payout {ref} was not imported" + (
            f": {'; '.join(reasons)}" if reasons else "."))
    else:
        if batch.state == "matched":
            problems.append(f"Payout {ref} matched fully but was not posted.")
        if report.get("posted") != (batch.state == "posted"):
            problems.append(f"Payout {ref}: the report says posted={report.get('posted')}, "
                            f"the batch is {batch.state}.")
        if report.get("payout_net_minor") != batch.payout_minor:
            problems.append(f"Payout {ref}: the provider paid {report.get('payout_net_minor')} "
                            f"but Odoo imported a payout of {batch.payout_minor} (minor units).")
        if report.get("balanced") and not _posting_check(batch, batch.payout_minor)[1]:
            problems.append(f"Payout {ref}: the report says balanced, the books do not.")
    batches = backend.env["retail.settlement.batch"].search([
        ("backend_id", "=", backend.id), ("state", "in", LIVE_STATES)], order="id")
    for each in batches:
        problems += _batch_problems(each)
    return problems


def perform_jobs(env, max_rounds=30):
    """Perform the pending queue_job jobs in this process, as the job runner
    would, until none is left. Returns the number of jobs done."""
    return _perform_jobs(env, max_rounds)


# ------------------------------------------------------------------ the payout

def _payout_currency(backend, orders, refunds):
    currencies = orders.currency_id | backend.env["res.currency"].union(
        *(refund["order"].currency_id for refund in refunds))
    if len(currencies) > 1:
        raise ValueError(f"One payout is in one currency; these orders are in "
                         f"{', '.join(sorted(currencies.mapped('name')))}.")
    return currencies or backend.company_id.currency_id


def _minor(amount, currency):
    code = currency.name
    return amounts.to_minor(f"{amount:.{amounts.exponent(code)}f}", code)


def _fee(gross, fee_rate_bp):
    """The provider's fee on a line: basis points of its gross, half up."""
    return (abs(gross) * fee_rate_bp + 5000) // 10000


def _sale_line(order, fee_rate_bp):
    gross = _minor(order.amount_total, order.currency_id)
    line = {"type": "sale", "merchant_order_ref": order.name, "gross": gross,
            "fee": _fee(gross, fee_rate_bp),
            "booked_at": f"{order.date_order:%Y-%m-%dT%H:%M:%S}+00:00"}
    if order.retail_psp_reference:
        line["psp_reference"] = order.retail_psp_reference
    return line


def _refund_line(refund, fee_rate_bp):
    # No PSP reference of our own: the provider gives each refund its own
    # (the order's would make two refunds of one order look like duplicates).
    order = refund["order"]
    gross = -_minor(refund["amount"], order.currency_id)
    return {"type": "refund", "merchant_order_ref": order.name,
            "merchant_refund_ref": refund["ref"], "gross": gross,
            "fee": _fee(gross, fee_rate_bp)}


# ---------------------------------------------------- scheduler, jobs, posting

def _run_scheduled_import(env, backend, perform):
    """Make the import flow due and run the batch-flow cron as the scheduler
    does (as the cron's user, the superuser by default), then let the jobs
    it queued run."""
    cron = env.ref(CRON_XMLID, raise_if_not_found=False)
    cron_env = env(user=cron.sudo().user_id.id if cron else SUPERUSER_ID)
    flow = backend._get_flow(IMPORT_FLOW).with_env(cron_env).sudo()
    flow.next_run_at = fields.Datetime.now() - timedelta(seconds=1)
    cron_env["retail.flow"]._cron_run_due_batches()
    perform()


def _post_as_user(batch):
    """*Post* as the user of ``env`` would press it; a refusal is reported,
    the transaction goes on."""
    try:
        with batch.env.cr.savepoint():
            batch.action_post()
    except UserError as exc:  # access errors and validation errors included
        return [{"line_ref": batch.payout_ref, "kind": "posting", "reason": str(exc)}]
    return []


# -------------------------------------------------------------------- reading

def _live_batch(env, backend, payout_ref):
    return env["retail.settlement.batch"].search([
        ("backend_id", "=", backend.id), ("payout_ref", "=", payout_ref),
        ("state", "in", LIVE_STATES)], order="revision desc", limit=1)


def _batch_exceptions(batch):
    if not batch:
        return []
    lines = batch.env["retail.settlement.line"].search(
        [("batch_id", "=", batch.id), ("state", "=", "exception")], order="sequence, id")
    found = [{"line_ref": line.line_ref or f"row {line.sequence}",
              "kind": line.exception_kind,
              "reason": line.exchange_id.error or line.exception_reason} for line in lines]
    if batch.problem:
        found.append({"line_ref": batch.payout_ref, "kind": "batch", "reason": batch.problem})
    return found


def _run_failures(env, backend, since, payout_ref):
    """The payout's messages that did not go through, and the import flow's
    runs that failed since ``since``."""
    messages = env["retail.exchange"].sudo().search([
        ("backend_id", "=", backend.id), ("state", "!=", "done"),
        "|", ("external_ref", "=", payout_ref),
        "&", ("idempotency_key", "=like", f"batch:{IMPORT_FLOW}:%"), ("create_date", ">=", since),
    ], order="id")
    return [{"line_ref": message.external_ref or payout_ref, "kind": "import",
             "reason": message.error or f"{message.name} is {message.state}"}
            for message in messages]


def _import_failures(env, backend, payout_ref, since):
    """Why a payout is not in Odoo: its import message, or a failed run."""
    return _run_failures(env, backend, since, payout_ref) or [{
        "line_ref": payout_ref, "kind": "import",
        "reason": "the scheduled import did not list the payout (is the backend's 'Import "
                  "payouts paid since' date after today?)"}]


def _posting_check(batch, payout_minor):
    """``(net sent to the bank in minor units, balanced)`` of a batch's
    entry; ``(None, False)`` when it is not posted."""
    batch = batch.sudo()  # the books are read whatever the caller's rights
    move = batch.move_id
    if batch.state != "posted" or move.state != "posted":
        return None, False
    currency = batch.currency_id
    bank = batch.backend_id.settlement_outstanding_account_id
    lines = move.line_ids
    posted_net = sum(_minor(line.amount_currency, currency)
                     for line in lines if line.account_id == bank)
    balanced = (sum(_minor(line.amount_currency, currency) for line in lines) == 0
                and move.company_id.currency_id.is_zero(sum(lines.mapped("balance")))
                and posted_net == payout_minor)
    return posted_net, balanced


def _batch_problems(batch):
    """Invariant breaches of one live batch (read as the superuser)."""
    problems = []
    code = batch.currency_id.name
    name = f"Payout {batch.payout_ref} ({batch.name})"
    if batch.net_minor != batch.payout_minor:
        problems.append(
            f"{name}: the lines' net {amounts.from_minor(batch.net_minor, code)} differs from "
            f"the payout {amounts.from_minor(batch.payout_minor, code)} {code}: it cannot "
            f"post to the cent.")
    if batch.state == "imported":
        problems.append(f"{name} was imported but never matched.")
    if batch.state == "posted":
        posted_net, balanced = _posting_check(batch, batch.payout_minor)
        if not balanced:
            problems.append(
                f"{name}: entry {batch.move_id.name or '(none)'} does not balance to the cent "
                f"or sends {posted_net} instead of {batch.payout_minor} (minor units) to the "
                f"bank.")
    Exchange = batch.env["retail.exchange"]
    if batch.problem and not Exchange.search_count([
            ("backend_id", "=", batch.backend_id.id),
            ("idempotency_key", "=", f"settlement-batch:{batch.id}"),
            ("state", "in", OPEN_EXCHANGE_STATES), ("error", "!=", False)], limit=1):
        problems.append(f"{name}: its problem is not in the exception queue: {batch.problem}")
    lines = batch.env["retail.settlement.line"].search(
        [("batch_id", "=", batch.id), ("state", "in", ("new", "exception"))],
        order="sequence, id")
    for line in lines:
        label = f"{name}, line {line.line_ref or f'row {line.sequence}'}"
        if line.state == "new":
            problems.append(f"{label} was never matched.")
        elif not (line.exchange_id.state in OPEN_EXCHANGE_STATES and line.exchange_id.error):
            problems.append(
                f"{label} is an exception ({line.exception_kind}) with no open message and "
                f"reason in the exception queue"
                + (f" (its message is {line.exchange_id.state})." if line.exchange_id else "."))
    return problems
