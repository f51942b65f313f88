# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""End-to-end scenarios of the suite: plain functions that drive the
connectors the way the scheduler, the job runner and users do."""
