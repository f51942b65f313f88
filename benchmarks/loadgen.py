# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""A small closed-loop HTTP load client (standard library, loopback only).

``threads`` clients each keep an ``http.client`` connection (re-opened
transparently when the server closes it, which Odoo's prefork workers do
after every answer) and send pre-computed requests one after the other,
until the duration is over or the pool of requests is used up: every run
is bounded in time *and* in count.
"""

from dataclasses import dataclass, field
import http.client
import itertools
import statistics
import threading
import time

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class PreparedRequest:
    method: str
    path: str
    body: bytes
    headers: dict


@dataclass
class LoadResult:
    label: str
    sent: int = 0
    completed: int = 0
    elapsed: float = 0.0
    statuses: dict = field(default_factory=dict)
    errors: int = 0
    error_samples: list = field(default_factory=list)
    latencies_ms: list = field(default_factory=list)
    pool_exhausted: bool = False

    @property
    def rate(self):
        return self.completed / self.elapsed if self.elapsed else 0.0

    def percentile(self, fraction):
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]

    def summary(self, expected_status):
        good = self.statuses.get(expected_status, 0)
        return {
            "requests": self.completed,
            "seconds": round(self.elapsed, 3),
            "rate": round(self.rate, 2),
            "ok": good,
            "unexpected": self.completed - good + self.errors,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "connection_errors": self.errors,
            "error_samples": self.error_samples[:5],
            "p50_ms": _round(self.percentile(0.5)),
            "p95_ms": _round(self.percentile(0.95)),
            "mean_ms": _round(statistics.fmean(self.latencies_ms)) if self.latencies_ms else None,
            "pool_exhausted": self.pool_exhausted,
        }


def _round(value):
    return None if value is None else round(value, 2)


def run_load(port, pool, duration, threads=8, label="", host=LOOPBACK, timeout=30.0):
    """Send ``pool`` requests from ``threads`` clients for at most ``duration`` s.

    Returns a :class:`LoadResult`; HTTP statuses are counted, connection
    errors are counted separately (and the connection is re-opened).
    """
    if host != LOOPBACK:
        raise ValueError("the load client only talks to 127.0.0.1")
    result = LoadResult(label=label)
    counter = itertools.count()
    lock = threading.Lock()
    start = time.monotonic()
    deadline = start + duration
    total = len(pool)

    def client():
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        statuses, latencies, errors, samples = {}, [], 0, []
        try:
            while time.monotonic() < deadline:
                index = next(counter)
                if index >= total:
                    result.pool_exhausted = True
                    break
                req = pool[index]
                began = time.monotonic()
                try:
                    conn.request(req.method, req.path, body=req.body, headers=req.headers)
                    response = conn.getresponse()
                    response.read()
                except (OSError, http.client.HTTPException) as exc:
                    errors += 1
                    if len(samples) < 5:
                        samples.append(f"{type(exc).__name__}: {exc}")
                    conn.close()
                    continue
                latencies.append((time.monotonic() - began) * 1000.0)
                statuses[response.status] = statuses.get(response.status, 0) + 1
                if response.will_close:
                    conn.close()
        finally:
            conn.close()
            with lock:
                result.errors += errors
                result.error_samples.extend(samples)
                result.latencies_ms.extend(latencies)
                for status, count in statuses.items():
                    result.statuses[status] = result.statuses.get(status, 0) + count

    workers = [threading.Thread(target=client, name=f"load-{label}-{i}", daemon=True)
               for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(duration + timeout + 5)
    result.elapsed = time.monotonic() - start
    result.completed = sum(result.statuses.values())
    result.sent = min(next(counter), total)
    return result
