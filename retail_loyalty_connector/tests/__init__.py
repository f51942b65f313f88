# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from . import (
    test_accrual,
    test_conformance,
    test_ledger,
    test_members,
    test_openapi,
    test_redemption,
    test_ui,
)
