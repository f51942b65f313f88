# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Odoo's command line, run by the interpreter that setup/suite found.

A file (not ``python -c``) because Odoo's prefork server re-executes
``sys.argv[0]`` to start its websocket (gevent) worker.
"""

import odoo

if __name__ == "__main__":
    odoo.cli.main()
