"""Secrets are never printed: not in messages, not in any log record, not in tracebacks."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli
from bot.logsafe import REDACTED, MaskingFormatter, configure_secrets, redact_secrets
from bot.settings import get_settings
from tests.bot.fake_bot_api import FakeBotAPI

EXE = Path(sys.executable).with_name("rm-assistant")
TOKEN = "987654321:AAHsecretTokenThatMustNeverBePrinted_0"
LLM_KEY = "sk-live-secret-key-never-printed"
HOOK_SECRET = "webhook-secret-never-printed"
DB_PASSWORD = "db-Pa55word-never-printed"
SECRETS = (TOKEN, LLM_KEY, HOOK_SECRET, DB_PASSWORD)


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    yield
    configure_secrets([])


def _all_records_text(caplog: pytest.LogCaptureFixture) -> str:
    formatter = logging.Formatter("%(message)s")
    return "\n".join(formatter.format(record) for record in caplog.records)


def _assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def _run(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    if not EXE.exists():
        pytest.skip(f"console script not installed: {EXE}")
    return subprocess.run(
        [str(EXE), *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


SECRET_ENV = {
    "TELEGRAM_BOT_TOKEN": TOKEN,
    "LLM_API_KEY": LLM_KEY,
    "TELEGRAM_WEBHOOK_SECRET": HOOK_SECRET,
}


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        pytest.param({"TELEGRAM_API_BASE_URL": "http://127.0.0.1:9/bot"}, "cannot reach", id="unreachable"),
        pytest.param({"TELEGRAM_API_BASE_URL": "notaurl"}, "TELEGRAM_API_BASE_URL", id="bad-api-url"),
        pytest.param(
            {"TELEGRAM_API_BASE_FILE_URL": "notaurl"}, "TELEGRAM_API_BASE_FILE_URL", id="bad-file-url"
        ),
        pytest.param({"TELEGRAM_WEBHOOK_URL": f"x{TOKEN}"}, "TELEGRAM_WEBHOOK_URL", id="bad-webhook-url"),
    ],
)
def test_run_never_prints_the_token(tmp_path: Path, env: dict[str, str], needle: str) -> None:
    # -v: every log record at DEBUG goes to stderr (PTB logs the API URL, token included, at DEBUG).
    proc = _run(tmp_path, {**SECRET_ENV, **env}, "-v", "run")
    assert proc.returncode != 0
    _assert_no_secret(proc.stdout, proc.stderr)
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: ") and needle in last
    if "127.0.0.1:9" in env.get("TELEGRAM_API_BASE_URL", ""):
        assert f"Set Bot API URL: http://127.0.0.1:9/bot{REDACTED}" in proc.stderr  # PTB did log it


def test_rejected_token_is_one_line_and_never_logged(
    fake_bot_api: FakeBotAPI, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for key, value in fake_bot_api.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)  # not the fake's token: 401 Unauthorized
    monkeypatch.setenv("DATABASE_URL", f"postgresql+psycopg://rm:{DB_PASSWORD}@127.0.0.1:1/x")
    get_settings.cache_clear()
    caplog.set_level(logging.DEBUG)
    result = CliRunner().invoke(cli, ["-v", "run"])
    assert result.exit_code == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last == "Error: TELEGRAM_BOT_TOKEN was rejected by the Telegram Bot API (Unauthorized)"
    assert caplog.records  # PTB and our own DEBUG records were captured…
    _assert_no_secret(result.output, _all_records_text(caplog))  # …and none holds a secret


def _run_with_failing_bot(monkeypatch: pytest.MonkeyPatch, exc: Exception, *args: str) -> Result:
    import bot.cli.app as cli_app
    import bot.telegram.app as telegram_app

    def fail(_settings: object) -> None:
        raise exc

    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    get_settings.cache_clear()
    monkeypatch.setattr(cli_app, "check_bot_api", lambda _settings: None)
    monkeypatch.setattr(telegram_app, "run_bot", fail)
    return CliRunner().invoke(cli, [*args, "run"])


def test_a_crash_message_with_the_token_is_redacted(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    result = _run_with_failing_bot(monkeypatch, RuntimeError(f"GET http://127.0.0.1:9/bot{TOKEN}/x"), "-v")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: the Telegram bot stopped: GET http://127.0.0.1:9/bot{REDACTED}/x"
    )
    assert "Traceback" in result.stderr  # -v: the traceback is logged, redacted
    _assert_no_secret(result.output, _all_records_text(caplog))


def test_telegram_errors_from_the_running_bot_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    from telegram.error import NetworkError

    result = _run_with_failing_bot(monkeypatch, NetworkError(f"aiohttp: bad url http://h/bot{TOKEN}/getMe"))
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "TELEGRAM_BOT_TOKEN is set: starting the Telegram bot (long polling).",
        f"Error: cannot reach the Telegram Bot API (TELEGRAM_API_BASE_URL): aiohttp: bad url http://h/bot{REDACTED}/getMe",
    ]


# ---------------------------------------------------------------------- the logging step itself
def test_record_factory_redacts_messages_args_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    configure_secrets([TOKEN, LLM_KEY, None, "abc"])
    log = logging.getLogger("tests.secrets")
    with caplog.at_level(logging.DEBUG, logger="tests.secrets"):
        log.debug("url %s/getMe", f"http://127.0.0.1:9/bot{TOKEN}")
        log.info(f"key={LLM_KEY} quoted={TOKEN.replace(':', '%3A')}")
        try:
            raise ValueError(f"bad token {TOKEN}")
        except ValueError:
            log.exception("failed")
    text = caplog.text + _all_records_text(caplog)
    _assert_no_secret(text)
    assert TOKEN.replace(":", "%3A") not in text
    assert f"bot{REDACTED}/getMe" in text and "ValueError: bad token [REDACTED]" in caplog.text
    assert "abc" in redact_secrets("abc is too short to be a secret")


def test_formatter_masks_and_redacts() -> None:
    configure_secrets([TOKEN])
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(MaskingFormatter("%(message)s"))
    log = logging.getLogger("tests.secrets.formatter")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("phone 13812345678 token %s db postgresql://rm:hunter22@db/x", TOKEN)
    finally:
        log.removeHandler(handler)
    assert (
        stream.getvalue().strip() == f"phone 138****5678 token {REDACTED} db postgresql://rm:{REDACTED}@db/x"
    )


def test_url_passwords_are_redacted_without_configuration() -> None:
    assert (
        redact_secrets("postgresql+psycopg://rm:s3cret@db:5432/rm")
        == f"postgresql+psycopg://rm:{REDACTED}@db:5432/rm"
    )
    for text in ("postgresql+psycopg://postgres@127.0.0.1:1/x", "http://127.0.0.1:9/bot", "a:b@c"):
        assert redact_secrets(text) == text
