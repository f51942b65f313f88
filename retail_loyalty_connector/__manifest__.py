# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "Retail Loyalty Connector",
    "summary": "Loyalty platform connector: members, redemptions, accruals, reversals "
               "(backend kind loyalty)",
    "version": "18.0.1.0.0",
    "author": "Retail Integration Suite contributors",
    "website": "https://github.com/retail-integration/retail_integration",
    "license": "LGPL-3",
    "category": "Sales/Retail",
    # The OMS connector's returns hook feeds reversals.
    "depends": ["retail_integration_base", "retail_oms_connector", "sale_stock", "account"],
    "data": [
        "security/ir.model.access.csv",
        "security/retail_loyalty_security.xml",
        "data/retail_loyalty_data.xml",
        "views/retail_loyalty_transaction_views.xml",
        "views/retail_loyalty_redeem_wizard_views.xml",
        "views/retail_backend_views.xml",
        "views/res_partner_views.xml",
        "views/sale_order_views.xml",
        "views/retail_flow_views.xml",
    ],
    "demo": ["demo/retail_loyalty_demo.xml"],
    "assets": {
        "web.assets_tests": [
            "retail_loyalty_connector/static/src/js/tours/*.js",
        ],
    },
    "installable": True,
}
