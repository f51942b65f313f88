# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import random

from odoo.tests import TransactionCase, tagged

from ..services import errors
from ..services import webhook_signature as sw
from ..services.backoff import backoff_delay
from ..services.classification import classify_status, parse_retry_after
from ..services.rate_limit import take_token

# Published test vector of the Standard Webhooks specification.
VECTOR = {
    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "msg_id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
    "timestamp": 1614265330,
    "body": b'{"test": 2432232314}',
    "signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
}


@tagged("post_install", "-at_install")
class TestWebhookSignature(TransactionCase):
    def verify(self, **overrides):
        args = {
            "secrets": [VECTOR["secret"]], "msg_id": VECTOR["msg_id"],
            "timestamp": str(VECTOR["timestamp"]), "signature_header": VECTOR["signature"],
            "body": VECTOR["body"], "now": VECTOR["timestamp"] + 10,
        }
        args.update(overrides)
        return sw.verify(**args)

    def test_sign_matches_published_vector(self):
        self.assertEqual(
            sw.sign(VECTOR["secret"], VECTOR["msg_id"], VECTOR["timestamp"], VECTOR["body"]),
            VECTOR["signature"])

    def test_verify_accepts_published_vector(self):
        self.assertTrue(self.verify())

    def test_verify_accepts_any_listed_signature_and_any_active_secret(self):
        other = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="
        header = "v1,bm9wZQ== v2,ignored " + VECTOR["signature"]
        self.assertTrue(self.verify(secrets=[other, VECTOR["secret"]], signature_header=header))

    def test_wrong_signature_is_refused(self):
        with self.assertRaises(sw.WebhookVerificationError) as caught:
            self.verify(signature_header="v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OF=")
        self.assertEqual(caught.exception.code, "invalid_signature")

    def test_tampered_body_is_refused(self):
        with self.assertRaises(sw.WebhookVerificationError):
            self.verify(body=b'{"test": 2432232315}')

    def test_old_and_future_timestamps_are_refused(self):
        for now in (VECTOR["timestamp"] + 301, VECTOR["timestamp"] - 301):
            with self.assertRaises(sw.WebhookVerificationError) as caught:
                self.verify(now=now)
            self.assertEqual(caught.exception.code, "timestamp_out_of_tolerance")
        self.assertTrue(self.verify(now=VECTOR["timestamp"] + 300))

    def test_missing_headers_are_refused(self):
        for field in ("msg_id", "timestamp", "signature_header"):
            with self.assertRaises(sw.WebhookVerificationError) as caught:
                self.verify(**{field: None})
            self.assertEqual(caught.exception.code, "missing_headers")
        with self.assertRaises(sw.WebhookVerificationError):
            self.verify(signature_header="v2,abc")


@tagged("post_install", "-at_install")
class TestRetryPolicy(TransactionCase):
    def test_backoff_doubles_up_to_the_cap(self):
        rng = random.Random(1)
        nominal = [backoff_delay(n, base=10, cap=100, jitter=0, rng=rng) for n in range(1, 7)]
        self.assertEqual(nominal, [10, 20, 40, 80, 100, 100])

    def test_jitter_stays_within_half_of_the_nominal_delay(self):
        rng = random.Random(7)
        delays = [backoff_delay(3, base=10, cap=1000, jitter=0.5, rng=rng) for _i in range(200)]
        self.assertTrue(all(20 <= d <= 40 for d in delays))
        self.assertGreater(len({round(d, 3) for d in delays}), 150, "jitter must spread retries")

    def test_retry_after_is_a_floor(self):
        self.assertEqual(backoff_delay(1, base=1, cap=10, jitter=0, retry_after=30), 30)
        self.assertEqual(parse_retry_after("7"), 7.0)
        self.assertAlmostEqual(
            parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480), 10.0)
        self.assertIsNone(parse_retry_after("soon"))

    def test_classification_of_statuses(self):
        cases = {200: None, 201: None, 400: errors.VALIDATION, 401: errors.AUTH,
                 403: errors.AUTH, 404: errors.VALIDATION, 408: errors.TRANSIENT,
                 409: errors.BUSINESS, 413: errors.VALIDATION, 422: errors.VALIDATION,
                 429: errors.RATE_LIMITED, 500: errors.TRANSIENT, 503: errors.TRANSIENT,
                 None: errors.TRANSIENT}
        for status, expected in cases.items():
            self.assertEqual(classify_status(status), expected, status)
        self.assertEqual(errors.RETRYABLE, {errors.TRANSIENT, errors.RATE_LIMITED})

    def test_token_bucket_arithmetic(self):
        tokens, wait = take_token(tokens=1, capacity=5, rate=10, elapsed=0)
        self.assertEqual((tokens, wait), (0, 0))
        tokens, wait = take_token(tokens=0, capacity=5, rate=10, elapsed=0)
        self.assertAlmostEqual(wait, 0.1)
        tokens, _wait = take_token(tokens=-1, capacity=5, rate=10, elapsed=100)
        self.assertEqual(tokens, 4, "a refill never exceeds the capacity")
