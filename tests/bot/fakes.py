"""The fakes the bot's tests use, under their historical import path.

`FakeCRM` and its data live in `tests.fakes.crm` (checked against `SqlCRM` by the port contract suite);
`FakeKB` in `tests.fakes.knowledge`.
"""

from __future__ import annotations

from crm_adapter import Channel
from tests.fakes.crm import CLIENTS, STAFF, FakeCRM, make_client
from tests.fakes.knowledge import FakeKB

__all__ = ["CLIENTS", "STAFF", "Channel", "FakeCRM", "FakeKB", "make_client"]
