"""`rm-assistant kb submit|changes|show|approve|reject|refresh`: four-eyes knowledge changes, command line.

`kb ingest` publishes at once (the operator's authority on the server); `kb submit` (or
`kb ingest --pending`) queues a document for a second person's approval instead, exactly as a trainer's
upload in chat does. Approvals need `--as STAFF` (another person than the submitter); `kb show K3` prints
what is to be approved, and `kb approve` prints it too before asking for a confirmation.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.core import Request, ServiceError, as_utc
from bot.rendering import to_plain
from bot.settings import get_settings

if TYPE_CHECKING:
    from bot.composition import Services
    from crm_adapter import Staff

logger = logging.getLogger(__name__)


@contextmanager
def _services() -> Iterator[Services]:
    from bot.composition import open_services
    from crm_adapter import CRMError

    try:
        # The command line waits for a publication's vectors: its process ends right after.
        services = open_services(get_settings(), wait_for_vectors=True)
    except CRMError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        yield services
    except (ServiceError, CRMError) as exc:
        raise click.ClickException(to_plain(str(exc))) from None
    finally:
        services.close()


def _staff(services: Services, code: str | None) -> Staff:
    from bot.cli.crm import _ensure_operator

    return services.crm.get_staff(code=code or _ensure_operator(services.crm))


def submit_paths(paths: Sequence[Path], actor: str | None) -> None:
    """Queue each file for approval and print its change number."""
    from bot.features.approvals import render_submitted

    with _services() as services:
        staff = _staff(services, actor)
        for path in paths:
            change = services.approvals.submit(staff, path)
            click.echo(to_plain(render_submitted(change)))


def register(kb_group: click.Group) -> None:
    """Add the change commands to the `kb` group."""

    @kb_group.command("submit")
    @click.argument(
        "paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
    )
    @click.option("--as", "actor", default=None, help="Submitting staff code (default: the CLI operator).")
    def submit(paths: tuple[Path, ...], actor: str | None) -> None:
        """Queue documents for four-eyes approval (nothing is served until approved)."""
        submit_paths(paths, actor)

    @kb_group.command("changes")
    @click.option("--json", "as_json", is_flag=True)
    def changes(as_json: bool) -> None:
        """List knowledge changes (pending first) with their status and dates."""
        with _services() as services:
            items = services.approvals.recent(limit=200)
            if as_json:
                click.echo(json.dumps([c.to_dict() for c in items], ensure_ascii=False))
                return
            if not items:
                click.echo("没有知识库变更。")
                return
            zone = services.clock.tz
            click.echo(f"编号\t状态\t文件\t提交人\t提交时间（{zone}）\t生效 ~ 失效\t说明")
            for c in sorted(items, key=lambda c: (c.status != "pending", -c.id)):
                dates = f"{c.effective_date or '—'} ~ {c.expiry_date or '—'}"
                when = f"{as_utc(c.submitted_at).astimezone(zone):%Y-%m-%d %H:%M}"
                who = f"{c.file_name}\t{c.submitted_by}"
                click.echo(f"{c.ref}\t{c.status_name}\t{who}\t{when}\t{dates}\t{c.note or ''}")
            if items:
                click.echo("全文（审批前请阅读）：rm-assistant kb show K3", err=True)

    @kb_group.command("show")
    @click.argument("ref")
    def show(ref: str) -> None:
        """Print the whole of a document change (K3; a new version: its diff first) or curated answer (A3)."""
        from bot.features.approvals.chat import content_of, render_full

        with _services() as services:
            click.echo(to_plain(render_full(content_of(services.approvals, ref))))

    @kb_group.command("approve")
    @click.argument("ref")
    @click.option("--as", "actor", required=True, help="Approving staff code (trainer, compliance or admin).")
    @click.option(
        "--yes", is_flag=True, help="Approve without the question (the whole text is still printed)."
    )
    def approve(ref: str, actor: str, yes: bool) -> None:
        """Approve a pending document (K3) or curated answer (A3) that someone else submitted: its whole
        text is printed first, and the approval needs a confirmation."""
        from bot.features import approvals
        from bot.features.approvals.chat import read_whole, render_full

        with _services() as services:
            staff = _staff(services, actor)
            content = read_whole(services.approvals, staff, ref)  # refused first if it may not approve it
            click.echo(to_plain(render_full(content)))
            if not yes and not click.confirm(f"以上为 {content.ref} 全文。确认批准？", default=False):
                raise click.ClickException(f"未确认，{content.ref} 未批准")
            req = Request(staff=staff, args=ref, frontend="cli")
            text = to_plain(approvals.approve(services.approvals, req).text)
        click.echo(text)
        if text.startswith("❌"):
            raise click.ClickException("publication failed")

    @kb_group.command("reject")
    @click.argument("ref")
    @click.option("--as", "actor", required=True, help="Rejecting staff code.")
    @click.option("--reason", default="", help="Why (kept with the change).")
    def reject(ref: str, actor: str, reason: str) -> None:
        """Reject a pending document or curated answer (or withdraw one's own)."""
        from bot.features import approvals

        with _services() as services:
            req = Request(staff=_staff(services, actor), args=f"{ref} {reason}".strip(), frontend="cli")
            click.echo(to_plain(approvals.reject(services.approvals, req).text))

    @kb_group.command("refresh")
    def refresh() -> None:
        """Publish approved changes now in effect and withdraw expired ones (the bot does it at 00:00)."""
        with _services() as services:
            done = services.approvals.refresh()
        for c in done:
            click.echo(f"{c.ref}\t{c.status_name}\t{c.file_name}")
        if not done:
            click.echo("没有到期需要处理的变更。")
