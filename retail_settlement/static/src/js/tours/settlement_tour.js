/** @odoo-module **/
// Copyright 2026 Retail Integration Suite contributors
// License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import { registry } from "@web/core/registry";
import { rpc } from "@web/core/network/rpc";

// The file the test prepared (a public attachment): what a clerk downloads
// from the provider's back office.
async function uploadTourFile() {
    const [file] = await rpc("/web/dataset/call_kw/ir.attachment/search_read", {
        model: "ir.attachment",
        method: "search_read",
        args: [[["name", "=", "retail_settlement_tour.csv"]], ["datas"]],
        kwargs: {},
    });
    const content = atob(file.datas);
    const input = document.querySelector(
        ".modal .o_field_widget[name='data_file'] input[type='file']"
    );
    const transfer = new DataTransfer();
    transfer.items.add(new File([content], "adyen-settlement.csv", { type: "text/csv" }));
    input.files = transfer.files;
    input.dispatchEvent(new Event("change", { bubbles: true }));
}

// A finance clerk uploads a settlement report, sees the match results and
// posts the batch.
registry.category("web_tour.tours").add("retail_settlement_upload_tour", {
    steps: () => [
        {
            trigger: ".o_menu_sections button:contains('Settlements')",
            run: "click",
        },
        {
            trigger: ".dropdown-item:contains('Import a File')",
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name='data_file']",
            run: uploadTourFile,
        },
        {
            trigger: ".modal .o_field_widget[name='data_file'] input[type='text'], .modal .o_field_widget[name='data_file'] .o_input:not(:empty), .modal .o_field_widget[name='data_file'] a",
        },
        {
            trigger: ".modal button[name='action_import']",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains('Matched')",
        },
        {
            trigger: ".o_form_view .o_field_widget[name='line_ids'] .o_data_row:contains('Sale'):contains('Matched')",
        },
        {
            trigger: ".o_form_view .o_field_widget[name='line_ids'] .o_data_row:contains('Chargeback')",
        },
        {
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_post']",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains('Posted')",
        },
        {
            trigger: ".o_form_view .o_field_widget[name='move_id'] a, .o_form_view .o_field_widget[name='move_id']:contains('/')",
        },
    ],
});
