# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from . import retail_backend
from . import retail_settlement_fee_account
from . import retail_settlement_batch
from . import retail_settlement_line
from . import retail_flow
from . import retail_exchange
