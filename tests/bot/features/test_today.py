"""bot.features.today: follow-ups and birthdays, `/today` and the digest."""

from __future__ import annotations

from bot.composition import Services
from bot.features import today
from tests.bot.app_fixtures import TODAY, req
from tests.bot.fakes import FakeCRM


def test_today_view_and_digest(services: Services, crm: FakeCRM) -> None:
    view = services.today.view(crm.get_staff(code="RM001"))
    assert view.today == TODAY
    assert view.follow_ups[0].overdue and view.birthdays[0].days_until == 2
    assert "已逾期回访（1）" in today.today(services.today, req(crm, "RM001")).text
    assert today.render_digest(view).startswith("早上好，王敏！")
