# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "Retail Settlement",
    "summary": "Payment and marketplace settlements: import, matching, postings "
               "(backend kind settlement)",
    "version": "18.0.1.0.0",
    "author": "Retail Integration Suite contributors",
    "website": "https://github.com/retail-integration/retail_integration",
    "license": "LGPL-3",
    "category": "Sales/Retail",
    "depends": ["retail_integration_base"],
    "data": [],
    "installable": True,
}
