# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""``odoo-bin`` for the benchmark server: Odoo's command line from a file.

Not ``python -c``: Odoo's prefork server starts its websocket (gevent)
process by re-executing ``sys.argv[0]``, which must be a script.
"""

import odoo.cli

if __name__ == "__main__":
    odoo.cli.main()
