# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.tests import TransactionCase, tagged

from odoo.addons.retail_integration_base.tests.common import (
    ConnectorConformanceMixin,
    RetailTestMixin,
)


@tagged("post_install", "-at_install")
class TestOmsConformance(ConnectorConformanceMixin, RetailTestMixin, TransactionCase):
    conformance_kind = "oms"
    conformance_event = {"type": "fulfillment.shipped", "sequence": 3,
                         "data": {"order_ref": "SO-CONF-1", "fulfillment_ref": "F1"}}
    conformance_subject = "SO-CONF-1"
