# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""webhook_intake: signed webhooks accepted per second vs Odoo's minimal JSON route."""

import base64
import datetime
import json
import time
import uuid

from simulators.common import decode_webhook_secret, sign_webhook

from .. import fixtures
from ..loadgen import PreparedRequest, run_load
from ..report import make_row
from . import measure

NAME = "webhook_intake"
TARGET = ">= 0.6"
UNIT = "req/s"
THREADS = 8
# Upper bound of requests prepared per pass (the pass also stops on time):
# far above what two workers answer, so the pool never runs dry in practice.
MAX_RATE = 1500
BASELINE_PATH = "/web/webclient/version_info"
BASELINE_BODY = json.dumps({"jsonrpc": "2.0", "method": "call", "params": {}}).encode()


def _baseline_pool(count):
    request = PreparedRequest("POST", BASELINE_PATH, BASELINE_BODY,
                              {"Content-Type": "application/json"})
    return [request] * count


def _webhook_pool(backend_id, secret, count, run_id, start_seq):
    """``count`` distinct signed deliveries (unique ``webhook-id``), signed now."""
    keys = [decode_webhook_secret(secret)]
    timestamp = int(time.time())
    occurred = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    path = f"/retail/webhook/{backend_id}"
    pool = []
    for n in range(start_seq, start_seq + count):
        msg_id = f"evt_bench_{run_id}_{n}"
        body = json.dumps({
            "id": msg_id, "type": "fulfillment.accepted", "occurred_at": occurred,
            "sequence": n, "data": {"order_ref": "BENCH-1"},
        }, separators=(",", ":")).encode()
        pool.append(PreparedRequest("POST", path, body, {
            "Content-Type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign_webhook(keys, msg_id, timestamp, body),
        }))
    return pool


class _Route:
    def __init__(self, label, expected_status, make_pool):
        self.label = label
        self.expected_status = expected_status
        self.make_pool = make_pool
        self.passes = []

    def run(self, ctx, port, duration, record=True):
        pool = self.make_pool(int(duration * MAX_RATE) + 50)
        result = run_load(port, pool, duration, threads=THREADS, label=self.label)
        if record:
            self.passes.append(result)
        summary = result.summary(self.expected_status)
        ctx.log(f"{NAME}: {'' if record else 'warm-up '}{self.label}: {summary['rate']:.1f} "
                f"req/s ({summary['requests']} in {summary['seconds']} s, "
                f"{summary['unexpected']} unexpected, p50 {summary['p50_ms']} ms)")
        return result

    def totals(self):
        count = sum(p.statuses.get(self.expected_status, 0) for p in self.passes)
        seconds = sum(p.elapsed for p in self.passes)
        return count, seconds

    def rate(self):
        """Expected answers per second over every measured pass."""
        count, seconds = self.totals()
        return count / seconds if seconds else 0.0

    def detail(self):
        summaries = [p.summary(self.expected_status) for p in self.passes]
        return {
            "expected_status": self.expected_status,
            "rate": round(self.rate(), 2),
            "pass_rates": [s["rate"] for s in summaries],
            "requests": sum(s["requests"] for s in summaries),
            "unexpected": sum(s["unexpected"] for s in summaries),
            "statuses": _merge_counts(s["statuses"] for s in summaries),
            "connection_errors": sum(s["connection_errors"] for s in summaries),
            "error_samples": [e for s in summaries for e in s["error_samples"]][:5],
            "p50_ms": [s["p50_ms"] for s in summaries],
            "p95_ms": [s["p95_ms"] for s in summaries],
            "pool_exhausted": any(s["pool_exhausted"] for s in summaries),
        }


def _merge_counts(dicts):
    total = {}
    for counts in dicts:
        for key, value in counts.items():
            total[key] = total.get(key, 0) + value
    return total


@measure(NAME, order=20, target=TARGET, unit=UNIT,
         description="POST /retail/webhook/<id> (202) throughput / POST "
                     "/web/webclient/version_info throughput, same server and client")
def webhook_intake(ctx):
    duration, warmup, rounds = (3.0, 1.0, 2) if ctx.quick else (10.0, 2.0, 2)
    run_id = uuid.uuid4().hex[:10]
    secret = "whsec_" + base64.b64encode(uuid.uuid4().bytes + uuid.uuid4().bytes).decode()
    with ctx.env() as env:
        fixtures.purge_leftovers(ctx, env)
        backend = env["retail.backend"].create({
            "name": "Bench webhooks", "kind": "generic", "base_url": "http://127.0.0.1:9",
            "auth_type": "none",
        })
        backend.write({"webhook_secret": secret})  # encrypted with the config's key
        flow = backend.flow_ids.filtered(lambda f: f.direction == "inbound")[:1]
        flow_code = flow.code or None
        backend_id = backend.id
        env.cr.commit()
    sequence = iter(range(0, 10**9, 10**6))  # disjoint webhook-id ranges per pass

    baseline = _Route("version_info", 200, _baseline_pool)
    webhook = _Route("webhook", 202,
                     lambda n: _webhook_pool(backend_id, secret, n, run_id, next(sequence)))
    try:
        # The runner is off: the jobs these deliveries enqueue would otherwise
        # run on the same two workers and disturb the next passes.
        server = ctx.server(runner=False)
        ctx.log(f"{NAME}: {THREADS} client threads, {rounds} rounds of {duration:.0f} s per "
                f"route, alternating; warm-up {warmup:.0f} s each")
        baseline.run(ctx, server.http_port, warmup, record=False)
        webhook.run(ctx, server.http_port, warmup, record=False)
        for index in range(rounds):
            order = (baseline, webhook) if index % 2 == 0 else (webhook, baseline)
            for route in order:
                route.run(ctx, server.http_port, duration)
        workers = int(ctx.option("workers") or 0)
        with ctx.env() as env:
            created = env["retail.exchange"].search_count(
                [("backend_id", "=", backend_id), ("direction", "=", "inbound")])
            backend = env["retail.backend"].browse(backend_id)
            ids = fixtures.exchange_ids(env, backend)
            jobs = fixtures.count_jobs_of_exchanges(env, ids)
        detail = {
            "threads": THREADS, "seconds_per_pass": duration, "rounds": rounds,
            "webhook": webhook.detail(), "version_info": baseline.detail(),
            "exchanges_recorded": created, "jobs_enqueued": jobs,
            "inbound_flow": flow_code,
            "job_runner": "off during the measure (ODOO_QUEUE_JOB_CHANNELS=root:0)",
            "workers": workers,
            # With every worker busy all the time, worker time per answer:
            "worker_ms_per_request": {
                route.label: round(workers * 1000.0 / route.rate(), 2) if route.rate() else None
                for route in (webhook, baseline)},
        }
        accepted = sum(p.statuses.get(202, 0) for p in webhook.passes)
        ctx.log(f"{NAME}: {created} exchanges and {jobs} jobs recorded by the server "
                f"(warm-up included); {accepted} measured deliveries answered 202")
    finally:
        ctx.purge_quietly(NAME, [backend_id])
    return [make_row(NAME, webhook.rate(), baseline.rate(), TARGET, UNIT, detail)]
