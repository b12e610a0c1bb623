"""Role policy: which role may do what, in one place.

The command table, the features, the front ends and the CLI all ask this module, so a rule
("trainers see no client data", "a supervisor sees their team") is written once. The CRM still
enforces its own scopes (`crm_adapter/scopes.py`); these are the bot's rules on top.
"""

from __future__ import annotations

from crm_adapter import Role, Staff

EVERYONE = frozenset(Role)
#: Look up clients, check messages, read benefits and briefs.
CLIENT_READERS = frozenset({Role.RM, Role.SUPERVISOR, Role.ADMIN})
#: Log contacts and mark the day's items.
CONTACT_WRITERS = frozenset({Role.RM, Role.ADMIN})
#: The day view (`/today`): the RM's own clients, a supervisor's team.
DAY_VIEWERS = CONTACT_WRITERS | {Role.SUPERVISOR}
#: Review the team's conversations and contact records.
SUPERVISORS = frozenset({Role.SUPERVISOR, Role.ADMIN})
#: Maintain the knowledge base: submit documents and curated answers, resolve hand-offs.
KNOWLEDGE_KEEPERS = frozenset({Role.TRAINER, Role.ADMIN})
#: The knowledge-gap inbox and the usage figures.
GAP_READERS = frozenset({Role.SUPERVISOR, Role.TRAINER, Role.ADMIN})
#: The second pair of eyes on knowledge changes and curated answers (never one's own).
APPROVERS = frozenset({Role.TRAINER, Role.COMPLIANCE, Role.ADMIN})
#: Submit knowledge changes and curated answers for approval.
SUBMITTERS = KNOWLEDGE_KEEPERS
#: See questions with client names replaced by 某客户 (trainers see no client data).
REDACTED = frozenset({Role.TRAINER})
#: Receive the daily audit anchor.
ANCHOR_RECIPIENTS = frozenset({Role.COMPLIANCE})
#: Receive the morning digest.
DIGEST_RECIPIENTS = frozenset({Role.RM})
#: The CLI operator acts on the server's authority: an admin.
OPERATOR = Role.ADMIN
#: Whose contact records count in the usage figures when no team narrows them.
CONTACT_STAFF = frozenset({Role.RM})


def sees_client_data(staff: Staff) -> bool:
    """False for roles that must never see a client's name or data (trainers)."""
    return staff.role not in REDACTED


def is_redacted(staff: Staff) -> bool:
    """Client names are replaced by 某客户 in what this staff member sees."""
    return staff.role in REDACTED


def team_scoped(staff: Staff) -> bool:
    """A supervisor sees their team only; the other roles that may look see everyone (or only their own)."""
    return staff.role is Role.SUPERVISOR


def acts_for_anyone(staff: Staff) -> bool:
    """An admin may act on any staff member's items (mark another RM's day item, open any check)."""
    return staff.role is Role.ADMIN


def sees_all_exchanges(staff: Staff) -> bool:
    """Trainers and admins act on any exchange (hand-offs); supervisors only on their team's."""
    return staff.role in KNOWLEDGE_KEEPERS


def may_submit(staff: Staff) -> bool:
    return staff.role in SUBMITTERS


def may_approve(staff: Staff) -> bool:
    return staff.role in APPROVERS


def may_curate(staff: Staff) -> bool:
    return staff.role in KNOWLEDGE_KEEPERS


def may_read_gaps(staff: Staff) -> bool:
    return staff.role in GAP_READERS


def marks_day_items(staff: Staff) -> bool:
    """RMs and admins mark their items done/skipped; a supervisor's day view is read only."""
    return not team_scoped(staff)


def sees_client_activity(staff: Staff) -> bool:
    """Usage figures with contact records (supervisors, admins), not only knowledge usage (trainers)."""
    return sees_client_data(staff)


def is_rm(staff: Staff) -> bool:
    return staff.role in DIGEST_RECIPIENTS


__all__ = [
    "ANCHOR_RECIPIENTS",
    "APPROVERS",
    "CLIENT_READERS",
    "CONTACT_STAFF",
    "CONTACT_WRITERS",
    "DAY_VIEWERS",
    "DIGEST_RECIPIENTS",
    "EVERYONE",
    "GAP_READERS",
    "KNOWLEDGE_KEEPERS",
    "OPERATOR",
    "REDACTED",
    "SUBMITTERS",
    "SUPERVISORS",
    "acts_for_anyone",
    "is_redacted",
    "is_rm",
    "marks_day_items",
    "may_approve",
    "may_curate",
    "may_read_gaps",
    "may_submit",
    "sees_all_exchanges",
    "sees_client_activity",
    "sees_client_data",
    "team_scoped",
]
