# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.tests import TransactionCase, tagged

from odoo.addons.retail_integration_base.tests.common import (
    ConnectorConformanceMixin,
    RetailTestMixin,
)


@tagged("post_install", "-at_install")
class TestSettlementConformance(ConnectorConformanceMixin, RetailTestMixin, TransactionCase):
    conformance_kind = "settlement"
    conformance_event = None
    conformance_subject = None
