"""A real bot process for the fault and standby tests, and the test-side helpers that drive it.

``python -m tests.bot.bot_process`` runs `bot.telegram.app.run_bot` with settings from the environment
(the test points TELEGRAM_* at its FakeBotAPI and DATABASE_URL at its database), on the scripted
knowledge base (no model to load) and the real SqlCRM. One fault hook, for killing the process at a
precise point: with BOT_TEST_PAUSE_ON=<text> and BOT_TEST_MARKER=<path>, a contact record whose summary
contains <text> is saved, then the marker file is written and the worker thread sleeps (until kill -9,
or BOT_TEST_PAUSE_SECONDS).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
#: The line PTB logs when the Application serves (after post_init: state loaded, inbox replayed).
SERVING = "Application started"
WAITING = "standby: another process serves"

logger = logging.getLogger(__name__)


class PausingCRM:
    """The real CRM; `create_contact` pauses after saving a summary containing `pause_on`."""

    def __init__(self, crm: Any, pause_on: str | None, marker: str | None, seconds: float = 600) -> None:
        self._crm = crm
        self._pause_on = pause_on
        self._marker = marker
        self._seconds = seconds

    def __getattr__(self, name: str) -> Any:
        return getattr(self._crm, name)

    def create_contact(self, *, actor: str, contact: Any, on_insert: Any = None) -> Any:
        record = self._crm.create_contact(actor=actor, contact=contact, on_insert=on_insert)
        if self._pause_on and self._marker and self._pause_on in contact.summary:
            Path(self._marker).write_text(str(record.id), encoding="utf-8")
            logger.warning("BOT_TEST: contact %s saved; pausing before the reply", record.id)
            time.sleep(self._seconds)
        return record


def main() -> None:
    from bot.composition import open_crm
    from bot.settings import Settings
    from bot.telegram.app import run_bot
    from tests.fakes.knowledge import FakeKB

    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s.%(msecs)03d %(process)d %(name)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = Settings()
    crm = open_crm(settings)
    try:
        run_bot(
            settings,
            kb=FakeKB(),
            crm=PausingCRM(
                crm,
                os.environ.get("BOT_TEST_PAUSE_ON"),
                os.environ.get("BOT_TEST_MARKER"),
                float(os.environ.get("BOT_TEST_PAUSE_SECONDS", "600")),
            ),
        )
    finally:
        crm.close()


# --- test side ------------------------------------------------------------------------------------------
class BotProcess:
    """One `python -m tests.bot.bot_process` child; its output goes to `log_path`."""

    def __init__(self, env: Mapping[str, str], log_path: Path, cwd: Path) -> None:
        self.env = dict(env)
        self.log_path = log_path
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> BotProcess:
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.bot.bot_process"],
                cwd=self.cwd,  # not the repo: its .env must not be read
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    @property
    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def wait_log(self, text: str, timeout: float = 30.0, *, count: int = 1) -> None:
        """Wait until `text` appears `count` times in the output (fails fast if the process died)."""
        deadline = time.monotonic() + timeout
        while self.log.count(text) < count:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"bot process exited ({self.proc.returncode}):\n{self.log[-4000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{text!r} not logged within {timeout}s:\n{self.log[-4000:]}")
            time.sleep(0.05)

    def kill(self) -> None:
        """kill -9: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)  # also ends a SIGSTOPped process
            self.proc.wait(timeout=10)

    def signal(self, sig: int) -> None:
        """Send `sig` (SIGSTOP freezes the whole process, SIGCONT thaws it)."""
        assert self.proc is not None and self.proc.poll() is None
        os.kill(self.proc.pid, sig)

    def stop(self) -> None:
        """SIGTERM (PTB's graceful stop), then SIGKILL if it hangs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def child_env(
    fake_env: Mapping[str, str], *, database_url: str, data_dir: Path, **extra: str
) -> dict[str, str]:
    """The environment of a bot child: ours without RM_/TELEGRAM_/DATABASE_URL, plus the given ones."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RM_", "TELEGRAM_", "LLM_", "CHROMA_", "BOT_TEST_")) and k != "DATABASE_URL"
    }
    env.update(fake_env)
    env.update(
        {
            "PYTHONPATH": str(REPO_ROOT),
            "DATABASE_URL": database_url,
            "RM_DATA_DIR": str(data_dir),
            "RM_STANDBY_POLL_SECONDS": "0.5",
            "RM_LEADER_LEASE_SECONDS": "9",  # takeovers after a crash within seconds, not 15
            "TELEGRAM_MAX_RATE": "0",
        }
    )
    env.update(extra)
    return env


@contextlib.contextmanager
def stub_world(fake: Any, data_dir: Path, database_url: str | None = None) -> Iterator[Any]:
    """A `BotWorld` on the scripted knowledge base (no model): demo CRM, conversation log, settings
    pointing at `fake`; SQLite under `data_dir` unless `database_url`."""
    from pydantic import SecretStr

    from bot.convlog import ConversationLog
    from bot.settings import Settings
    from tests.bot.conftest import BotWorld, demo_crm
    from tests.fakes.knowledge import FakeKB

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        rm_data_dir=data_dir,
        database_url=database_url,
        telegram_bot_token=SecretStr(fake.token),
        telegram_api_base_url=fake.base_url,
        telegram_api_base_file_url=fake.base_file_url,
        telegram_max_rate=0,
    )
    crm = demo_crm(settings)
    log = ConversationLog(settings.effective_database_url)
    try:
        yield BotWorld(fake=fake, settings=settings, crm=crm, kb=FakeKB(), log=log)
    finally:
        log.close()
        crm.close()


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout}s")
        time.sleep(0.05)


if __name__ == "__main__":
    main()


class PrivatePostgres:
    """A throw-away PostgreSQL server of our own (initdb under /tmp, a free port), to restart mid-test.
    Never the machine's server. As root it runs as the `postgres` user (initdb refuses root)."""

    def __init__(self, bindir: Path, port: int) -> None:
        import tempfile

        self.bindir, self.port = bindir, port
        self.root = Path(tempfile.mkdtemp(prefix="rm_pg_"))
        self.data = self.root / "data"
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(self.root, user="postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")

    @classmethod
    def find_bindir(cls) -> Path | None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        return found[-1].parent if found else None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self._as, str(self.bindir / tool), *args], check=True, capture_output=True, timeout=60
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options, "-w", "start"
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
