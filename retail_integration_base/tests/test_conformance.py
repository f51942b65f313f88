# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.tests import TransactionCase, tagged

from .common import (
    ConnectorConformanceMixin,
    RetailTestMixin,
)


@tagged("post_install", "-at_install")
class TestGenericConformance(ConnectorConformanceMixin, RetailTestMixin, TransactionCase):
    conformance_kind = "generic"
    conformance_backend_values = {"webhook_subject_keys": "ticket_ref, order_ref"}
    conformance_event = {"type": "order.note", "sequence": 1,
                         "data": {"order_ref": "SO-GEN-1"}}
    conformance_subject = "SO-GEN-1"
