# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Point the demo backends at the running simulators (called by setup/suite start).

Usage: configure_demo.py CONFIG DATABASE ODOO_URL BACKEND_XMLID=SIMULATOR_URL...
Prints ``backend:<xmlid> <api key> <webhook secret> <backend id>`` per backend
for its simulator. Demo credentials live in .run/demo-credentials.json (never in
git); in the database they are encrypted like any other secret.
"""

import base64
import json
import os
import secrets
import sys

import odoo
from odoo.tools import config


def main(conf, db, odoo_url, targets):
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
        for target in targets:
            xmlid, sim_url = target.split("=", 1)
            backend = env.ref(xmlid)
            backend.base_url = sim_url
            if fresh or backend.api_key_state != "set" or \
                    backend.webhook_secret_state == "not_set":
                backend.write({"api_key": creds["api_key"],
                               "webhook_secret": creds["webhook_secret"]})
                backend.action_drop_previous_secret()
            print(f"backend:{xmlid}", creds["api_key"], creds["webhook_secret"], backend.id)
        # The simulators count money in the company's currency.
        print("currency:", env.company.currency_id.name)
        env["ir.config_parameter"].set_param("web.base.url", odoo_url)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:])
