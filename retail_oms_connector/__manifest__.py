# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "Retail OMS Connector",
    "summary": "Order management system connector: order export, fulfillment events, "
               "returns, inventory availability (backend kind oms)",
    "version": "18.0.1.0.0",
    "author": "Retail Integration Suite contributors",
    "website": "https://github.com/retail-integration/retail_integration",
    "license": "LGPL-3",
    "category": "Sales/Retail",
    "depends": ["retail_integration_base"],
    "data": [
        "security/ir.model.access.csv",
        "data/queue_job_data.xml",
        "views/retail_backend_views.xml",
        "views/sale_order_views.xml",
        "views/retail_flow_views.xml",
    ],
    "demo": ["demo/retail_oms_demo.xml"],
    "assets": {
        "web.assets_tests": [
            "retail_oms_connector/static/src/js/tours/*.js",
        ],
    },
    "installable": True,
}
