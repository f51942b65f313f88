# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from . import retail_backend
from . import retail_flow
from . import retail_binding
from . import retail_binding_mixin
from . import retail_exchange
from . import retail_mapping
from . import res_config_settings
from . import sale_order
from . import stock_picking
from . import res_partner
