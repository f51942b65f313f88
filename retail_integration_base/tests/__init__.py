# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from . import (
    test_access,
    test_conformance,
    test_crypto,
    test_exchange,
    test_rate_limit,
    test_services,
    test_ui,
    test_webhook,
)
