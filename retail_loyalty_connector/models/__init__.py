# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from . import retail_backend
from . import retail_loyalty_transaction
from . import retail_exchange
from . import retail_flow
from . import res_partner
from . import sale_order
from . import sale_order_line
from . import stock_picking
from . import account_move
