# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Plain Python, no ORM: strict parsing of settlement reports and the
matching engine. The models call them with plain values."""
from . import amounts, matching, parsers
