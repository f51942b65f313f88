# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "Retail Settlement",
    "summary": "Payment and marketplace settlements: scheduled import, matching, journal "
               "postings and variance exceptions (backend kind settlement)",
    "version": "18.0.1.0.0",
    "author": "Retail Integration Suite contributors",
    "website": "https://github.com/retail-integration/retail_integration",
    "license": "LGPL-3",
    "category": "Sales/Retail",
    "depends": ["retail_integration_base", "account", "sale"],
    "data": [
        "security/ir.model.access.csv",
        "security/retail_settlement_security.xml",
        "data/retail_settlement_data.xml",
        "views/retail_backend_views.xml",
        "views/retail_flow_views.xml",
        "views/retail_settlement_batch_views.xml",
        "views/retail_settlement_line_views.xml",
        "views/retail_settlement_import_wizard_views.xml",
        "views/retail_settlement_menus.xml",
    ],
    "demo": ["demo/retail_settlement_demo.xml"],
    "assets": {
        "web.assets_tests": [
            "retail_settlement/static/src/js/tours/*.js",
        ],
    },
    "installable": True,
}
