# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Meta-module of the suite: installs every addon; end-to-end tests in tests/."""

from . import scenario
