# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Point the demo backends at the running simulators (called by setup/suite start).

Usage: configure_demo.py CONFIG DATABASE SIMULATOR_URL ODOO_URL
Prints ``<api key> <webhook secret> <backend id>`` on its last line for the
simulator. Demo credentials live in .run/demo-credentials.json (never in
git); in the database they are encrypted like any other secret.
"""

import base64
import json
import os
import secrets
import sys

import odoo
from odoo.tools import config


def main(conf, db, sim_url, odoo_url):
    config.parse_config(["-c", conf, "-d", db])
    state = os.path.dirname(os.path.abspath(conf))
    cred_path = os.path.join(state, "demo-credentials.json")
    fresh = not os.path.exists(cred_path)
    if fresh:
        creds = {
            "api_key": "sk_demo_" + secrets.token_urlsafe(24),
            "webhook_secret": "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
        }
        fd = os.open(cred_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(creds, handle)
    with open(cred_path) as handle:
        creds = json.load(handle)
    registry = odoo.modules.registry.Registry(db)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        backend = env.ref("retail_oms_connector.retail_backend_oms_demo")
        backend.base_url = sim_url
        if fresh or backend.api_key_state != "set" or backend.webhook_secret_state == "not_set":
            backend.write({"api_key": creds["api_key"],
                           "webhook_secret": creds["webhook_secret"]})
            backend.action_drop_previous_secret()
        env["ir.config_parameter"].set_param("web.base.url", odoo_url)
        print(creds["api_key"], creds["webhook_secret"], backend.id)


if __name__ == "__main__":
    main(*sys.argv[1:5])
