# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Plain-Python services of the framework.

Nothing here imports the ORM: these modules are unit-testable on their own
and are called by thin model methods (see DESIGN.md, principle 6).
"""
