# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""An example marketplace connector, the way OCA ships ``test_queue_job``.

It proves that a new kind of backend fits without touching the base: its
own kind, authentication scheme (HTTP Basic), webhook envelope
(``{"notification": {"topic", "version", "payload"}}``), lane key
(``listing_id``), one outbound and one inbound flow.
"""

from . import models
