/** @odoo-module **/
// Copyright 2026 Retail Integration Suite contributors
// License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import { registry } from "@web/core/registry";

// A salesperson redeems 300 points on a quotation and confirms it.
registry.category("web_tour.tours").add("retail_loyalty_redeem_tour", {
    steps: () => [
        {
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_loyalty_redeem']",
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name='available']:contains('1,000')",
        },
        {
            trigger: ".modal .o_field_widget[name='points'] input",
            run: "edit 300",
        },
        {
            trigger: ".modal button[name='action_redeem']",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_field_widget[name='order_line'] .o_data_row:contains('Loyalty')",
        },
        {
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_confirm']:first",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains('Sales Order')",
        },
    ],
});

// The customer's form shows the balance after the redemption.
registry.category("web_tour.tours").add("retail_loyalty_balance_tour", {
    steps: () => [
        {
            trigger: ".o_form_view .o_notebook .nav-link:contains('Loyalty')",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_field_widget[name='retail_loyalty_balance']:contains('700')",
        },
        {
            trigger: ".o_form_view .o_field_widget[name='retail_loyalty_tier']:contains('member')",
        },
    ],
});
