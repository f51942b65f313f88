# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "Retail Integration Suite",
    "summary": "Odoo as the retail backbone beside an OMS, a loyalty platform and payment "
               "providers: governed, observable, idempotent flows",
    "version": "18.0.1.0.0",
    "author": "Retail Integration Suite contributors",
    "website": "https://github.com/retail-integration/retail_integration",
    "license": "LGPL-3",
    "category": "Sales/Retail",
    "depends": [
        "retail_integration_base",
        "retail_oms_connector",
        "retail_loyalty_connector",
        "retail_settlement",
    ],
    "data": [],
    "installable": True,
    "application": False,
}
