# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "Retail Integration: example connector (tests only)",
    "summary": "A fifth connector built on the framework's extension points alone; "
               "installed by the test command, never in production",
    "version": "18.0.1.0.0",
    "author": "Retail Integration Suite contributors",
    "website": "https://github.com/retail-integration/retail_integration",
    "license": "LGPL-3",
    "category": "Hidden/Tests",
    "depends": ["retail_integration_base"],
    "data": [],
    "installable": True,
}
