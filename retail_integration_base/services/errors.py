# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Failure classes and the exception every handler raises to report one."""

TRANSIENT = "transient"
RATE_LIMITED = "rate_limited"
AUTH = "auth"
VALIDATION = "validation"
MAPPING = "mapping"
BUSINESS = "business"
TECHNICAL = "technical"

FAILURE_CLASSES = [
    (TRANSIENT, "Transient (network, timeout, 5xx)"),
    (RATE_LIMITED, "Rate limited (429)"),
    (AUTH, "Authentication"),
    (VALIDATION, "Validation (4xx)"),
    (MAPPING, "Missing mapping"),
    (BUSINESS, "Business rule"),
    (TECHNICAL, "Technical error"),
]

# Only these are retried automatically; every other class goes straight to
# the exception queue because retrying cannot change the outcome until a
# person fixes data, a mapping or a credential.
RETRYABLE = frozenset({TRANSIENT, RATE_LIMITED})


class RetailIntegrationError(Exception):
    """A classified failure of one exchange.

    Handlers raise it (or let the HTTP client raise it) to tell the framework
    what happened; the framework decides between a retry and the exception
    queue from ``failure_class``.
    """

    def __init__(self, message, failure_class=TECHNICAL, retry_after=None,
                 http_status=None, details=None):
        super().__init__(message)
        self.message = message
        self.failure_class = failure_class
        self.retry_after = retry_after
        self.http_status = http_status
        self.details = details or []
        self.result = None  # the HttpResult, when the failure came from a call

    @property
    def retryable(self):
        return self.failure_class in RETRYABLE


class MappingError(RetailIntegrationError):
    """No mapping exists for a value: a person must add one."""

    def __init__(self, message, details=None):
        super().__init__(message, MAPPING, details=details)


class BusinessRuleError(RetailIntegrationError):
    def __init__(self, message, details=None):
        super().__init__(message, BUSINESS, details=details)


class RateLimitDeferred(Exception):
    """Our own rate limit asks to wait: not a failure, no attempt is spent."""

    def __init__(self, seconds):
        super().__init__(f"rate limit: retry in {seconds:.2f}s")
        self.seconds = seconds
