# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "Retail Integration Base",
    "summary": "Governed, observable, idempotent integration framework: backends, flows, "
               "bindings, message log and exception queue, signed webhooks, HTTP client",
    "version": "18.0.1.0.0",
    "author": "Retail Integration Suite contributors",
    "website": "https://github.com/retail-integration/retail_integration",
    "license": "LGPL-3",
    "category": "Sales/Retail",
    "depends": ["mail", "queue_job", "sale_stock", "account"],
    "external_dependencies": {"python": ["requests", "cryptography"]},
    "data": [
        "security/retail_integration_base_groups.xml",
        "security/ir.model.access.csv",
        "security/retail_integration_base_security.xml",
        "security/res_users_data.xml",
        "data/queue_job_data.xml",
        "data/ir_cron_data.xml",
        "data/ir_config_parameter_data.xml",
        "views/retail_backend_views.xml",
        "views/retail_flow_views.xml",
        "views/retail_exchange_views.xml",
        "views/retail_binding_views.xml",
        "views/retail_mapping_views.xml",
        "views/retail_binding_mixin_views.xml",
        "views/res_config_settings_views.xml",
        "views/retail_integration_base_menus.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "retail_integration_base/static/src/js/tours/*.js",
        ],
    },
    "installable": True,
    "application": True,
}
