# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""A retailer's day, end to end, against the reference simulators.

``day.RetailDay`` drives it through the ORM and the simulators' control API;
``day.RetailDay.invariants()`` checks what must hold once the queues are
drained. The suite-level test runs a small day; ``./setup/suite day`` runs a
full one (see README.rst).
"""
