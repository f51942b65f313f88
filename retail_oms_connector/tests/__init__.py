# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from . import (
    test_conformance,
    test_fulfillment,
    test_inventory,
    test_openapi,
    test_order_export,
    test_product_push,
    test_returns,
    test_ui,
)
