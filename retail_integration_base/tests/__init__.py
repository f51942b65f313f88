# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from . import test_services
from . import test_crypto
from . import test_access
from . import test_rate_limit
from . import test_exchange
from . import test_webhook
from . import test_ui
