/** @odoo-module **/
// Copyright 2026 Retail Integration Suite contributors
// License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import { registry } from "@web/core/registry";

// A salesperson confirms a quotation: the order is queued for the OMS.
registry.category("web_tour.tours").add("retail_oms_confirm_tour", {
    steps: () => [
        {
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_confirm']:first",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains('Sales Order')",
        },
    ],
});

// The OMS shipped it: the delivery is done and carries the tracking number.
registry.category("web_tour.tours").add("retail_oms_shipped_tour", {
    steps: () => [
        {
            trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains('Done')",
        },
        {
            trigger: ".o_form_view .o_field_widget[name='retail_tracking_numbers']:contains('TRK')",
        },
        {
            trigger: ".o_form_view .o_field_widget[name='retail_carrier']:contains('DHL')",
        },
    ],
});
