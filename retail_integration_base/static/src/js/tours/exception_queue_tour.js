/** @odoo-module **/
// Copyright 2026 Retail Integration Suite contributors
// License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import { registry } from "@web/core/registry";

// A user finds a failed message in the exception queue through the menu,
// reads why it failed, retries it, and the retry is audited in the chatter.
registry.category("web_tour.tours").add("retail_exception_queue_tour", {
    url: "/odoo",
    steps: () => [
        {
            trigger: ".o_navbar_apps_menu button",
            run: "click",
        },
        {
            trigger: ".o_app[data-menu-xmlid='retail_integration_base.retail_integration_menu_root']",
            run: "click",
        },
        {
            trigger: ".o_main_navbar [data-menu-xmlid='retail_integration_base.retail_exchange_exceptions_menu']",
            run: "click",
        },
        {
            trigger: ".o_list_view .o_data_row td:contains('tour-failed-order')",
            run: "click",
        },
        {
            trigger: ".o_form_view .alert-danger:contains('customer.email')",
        },
        {
            trigger: ".o_form_view button[name='action_retry']",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains('Pending')",
        },
        {
            trigger: ".o-mail-Message:contains('Retried by')",
        },
    ],
});
