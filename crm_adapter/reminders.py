"""Follow-ups due, upcoming birthdays, KYC reviews and risk assessments due of the clients in a read
scope (on an open ORM session), and the dates of a client card.

The date rules themselves are in `crm_adapter.schedule`; the caller checks the actor, logs the reads
and owns the transaction.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta, tzinfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from crm_adapter import scopes
from crm_adapter.mapping import client_model
from crm_adapter.models import (
    BirthdayReminder,
    Client,
    ClientCard,
    ContactRecord,
    FollowUp,
    KycReview,
    RiskAssessmentDue,
    Tier,
)
from crm_adapter.orm import ClientRow, ContactRow
from crm_adapter.schedule import add_months, assessed_cutoff, follow_up_due, mmdd_window, next_birthday
from crm_adapter.statements import scope_clause

logger = logging.getLogger(__name__)

_TIER_ORDER = {Tier.DIAMOND: 0, Tier.PLATINUM: 1, Tier.GOLD: 2, Tier.POTENTIAL: 3}


def follow_ups_due(
    session: Session,
    *,
    scope: scopes.ClientScope,
    day: date,
    horizon_days: int,
    cadence: dict[Tier, int],
    tz: tzinfo,
) -> list[FollowUp]:
    """Clients due within `horizon_days` of `day`: soonest (most overdue) first, then by tier."""
    latest_id = (
        select(ContactRow.id)
        .where(ContactRow.client_id == ClientRow.client_id)
        .order_by(ContactRow.occurred_at.desc(), ContactRow.id.desc())
        .limit(1)
        .correlate(ClientRow)
        .scalar_subquery()
    )
    stmt = (
        select(ClientRow, ContactRow)
        .outerjoin(ContactRow, ContactRow.id == latest_id)
        .where(scope_clause(scope))
    )
    result: list[FollowUp] = []
    for client_row, last in session.execute(stmt).all():
        client = client_model(client_row)
        due, reason = follow_up_due(
            tier=client.tier,
            last_contact_day=None if last is None else last.occurred_at.astimezone(tz).date(),
            agreed_next=None if last is None else last.next_follow_up,
            cadence=cadence,
            today=day,
        )
        if due <= day + timedelta(days=horizon_days):
            result.append(FollowUp(client=client, due=due, overdue=due < day, reason=reason))
    result.sort(key=lambda f: (f.due, _TIER_ORDER[f.client.tier], f.client.pinyin, f.client.client_id))
    return result


def birthdays_within(
    session: Session, *, scope: scopes.ClientScope, day: date, days: int
) -> list[BirthdayReminder]:
    """Birthdays from `day` to `day + days` inclusive (Feb 29 and year wrap per `schedule`), soonest first."""
    stmt = select(ClientRow).where(
        scope_clause(scope), ClientRow.birth_mmdd.in_(sorted(mmdd_window(day, days)))
    )
    result: list[BirthdayReminder] = []
    for row in session.scalars(stmt):
        client = client_model(row)
        assert client.birthday is not None  # birth_mmdd is set iff birthday is
        occurrence = next_birthday(client.birthday, day)
        if (occurrence - day).days <= days:
            days_until = (occurrence - day).days
            result.append(BirthdayReminder(client=client, birthday=occurrence, days_until=days_until))
    result.sort(key=lambda b: (b.days_until, b.client.pinyin, b.client.client_id))
    return result


def kyc_reviews_due(
    session: Session, *, scope: scopes.ClientScope, day: date, horizon_days: int
) -> list[KycReview]:
    """Clients whose KYC review is due by `day + horizon_days` (overdue ones included), soonest first."""
    stmt = select(ClientRow).where(
        scope_clause(scope),
        ClientRow.kyc_review_due.is_not(None),
        ClientRow.kyc_review_due <= day + timedelta(days=horizon_days),
    )
    result: list[KycReview] = []
    for row in session.scalars(stmt):
        client = client_model(row)
        assert client.kyc_review_due is not None
        days = (client.kyc_review_due - day).days
        result.append(KycReview(client=client, due=client.kyc_review_due, overdue=days < 0, days=days))
    result.sort(key=lambda k: (k.due, k.client.pinyin, k.client.client_id))
    return result


def risk_assessments_due(
    session: Session, *, scope: scopes.ClientScope, day: date, horizon_days: int, validity_months: int
) -> list[RiskAssessmentDue]:
    """Clients with no risk assessment, or one expiring by `day + horizon_days`: none first, then oldest."""
    cutoff = assessed_cutoff(day, validity_months=validity_months, horizon_days=horizon_days)
    stmt = select(ClientRow).where(
        scope_clause(scope),
        or_(ClientRow.risk_assessed_on.is_(None), ClientRow.risk_assessed_on <= cutoff),
    )
    result = [
        assessment_due(client_model(row), day=day, validity_months=validity_months)
        for row in session.scalars(stmt)
    ]
    result.sort(key=assessment_order)
    return result


def assessment_due(client: Client, *, day: date, validity_months: int) -> RiskAssessmentDue:
    if client.risk_assessed_on is None:
        return RiskAssessmentDue(client=client, expires=None, days=None)
    expires = add_months(client.risk_assessed_on, validity_months)
    return RiskAssessmentDue(client=client, expires=expires, days=(expires - day).days)


def assessment_order(a: RiskAssessmentDue) -> tuple[int, date, str, str]:
    """Most urgent first: never assessed, then the earliest expiry."""
    return (a.expires is not None, a.expires or date.min, a.client.pinyin, a.client.client_id)


def card(
    client: Client, last_contact: ContactRecord | None, *, day: date, cadence: dict[Tier, int], tz: tzinfo
) -> ClientCard:
    """The card of `client` on `day`, given its latest contact record."""
    last_day = None if last_contact is None else last_contact.occurred_at.astimezone(tz).date()
    due, _reason = follow_up_due(
        tier=client.tier,
        last_contact_day=last_day,
        agreed_next=None if last_contact is None else last_contact.next_follow_up,
        cadence=cadence,
        today=day,
    )
    birthday = None if client.birthday is None else next_birthday(client.birthday, day)
    return ClientCard(
        client=client,
        last_contact=last_contact,
        last_contact_day=last_day,
        days_since_contact=None if last_day is None else (day - last_day).days,
        next_follow_up=due,
        follow_up_overdue=due < day,
        upcoming_birthday=birthday,
        days_to_birthday=None if birthday is None else (birthday - day).days,
    )


__all__ = [
    "assessment_due",
    "assessment_order",
    "birthdays_within",
    "card",
    "follow_ups_due",
    "kyc_reviews_due",
    "risk_assessments_due",
]
