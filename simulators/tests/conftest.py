# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The simulator tests need no Odoo.

When the pytest-odoo plugin is installed (it is on the suite's machines), it
adds session-wide autouse fixtures that build an Odoo registry and fail without
a database.  Fixtures of the same name here take precedence for the tests of
this folder and turn them into no-ops, so ``python -m pytest simulators/tests``
works with or without the plugin (``-p no:odoo`` works too).
"""

import pytest


@pytest.fixture(scope="session", autouse=True)
def load_registry():
    yield


@pytest.fixture(scope="session", autouse=True)
def load_http():
    yield


@pytest.fixture(scope="module", autouse=True)
def enable_odoo_test_flag():
    yield
