# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Reference simulators: the partner side of the suite's external contracts.

Plain standard-library HTTP servers used by tests, demos and benchmarks.
"""
