# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.tests import TransactionCase, tagged

from odoo.addons.retail_integration_base.tests.common import (
    ConnectorConformanceMixin,
    RetailTestMixin,
)


@tagged("post_install", "-at_install")
class TestLoyaltyConformance(ConnectorConformanceMixin, RetailTestMixin, TransactionCase):
    conformance_kind = "loyalty"
    conformance_event = {"type": "member.updated", "sequence": 2,
                         "data": {"member_ref": "M-CONF-1", "balance": 10}}
    conformance_subject = "M-CONF-1"
