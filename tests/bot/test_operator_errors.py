"""Every operator error is one line `Error: …` on stderr, a non-zero exit code and no traceback.

The real console script runs in a subprocess (the honest check for tracebacks: nothing catches them for
us); the cheaper variants run through click's CliRunner.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from telegram.error import InvalidToken

from bot.cli import cli
from bot.settings import get_settings
from tests.bot.fake_bot_api import FakeBotAPI

EXE = Path(sys.executable).with_name("rm-assistant")
TOKEN = "123456789:AAFakeTokenForOperatorErrorTests_x1"
UNREACHABLE_PG = "postgresql+psycopg://postgres@127.0.0.1:1/x"  # port 1: connection refused at once
CLOSED_PORT_API = "http://127.0.0.1:9/bot"  # port 9 (discard) is closed: connection refused at once
CADENCE = "RM_FOLLOW_UP_CADENCE"
LIST = ["staff", "list"]


def _run(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    if not EXE.exists():
        pytest.skip(f"console script not installed: {EXE}")
    # The autouse fixture already removed RM_/TELEGRAM_/LLM_/CHROMA_/DATABASE_URL from os.environ.
    full_env = {**os.environ, **env}
    return subprocess.run(
        [str(EXE), *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=120, check=False
    )


def _assert_one_line(code: int, stdout: str, stderr: str, *, exit_code: int, needle: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == exit_code, stderr
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and "Traceback" not in stdout
    assert lines[0].startswith("Error: "), lines[0]
    assert needle in lines[0], lines[0]
    assert stdout == ""
    return lines[0]


def _a_file(tmp_path: Path) -> Path:
    path = tmp_path / "not-a-dir"
    path.write_text("x", encoding="utf-8")
    return path


# (id, environment, command, exit code, text the line must contain); "{file}" is a regular file.
SUBPROCESS_CASES = [
    ("db-unreachable", {"DATABASE_URL": UNREACHABLE_PG}, LIST, 1, "DATABASE_URL"),
    ("db-garbage", {"DATABASE_URL": "garbage://x"}, LIST, 2, "DATABASE_URL"),
    ("data-dir-is-a-file", {"RM_DATA_DIR": "{file}"}, LIST, 1, "RM_DATA_DIR"),
    ("data-dir-under-a-file", {"RM_DATA_DIR": "{file}/sub"}, LIST, 1, "RM_DATA_DIR"),
    ("data-dir-read-only", {"RM_DATA_DIR": "{ro}"}, LIST, 1, "RM_DATA_DIR"),
    ("log-level", {"RM_LOG_LEVEL": "LOUD"}, LIST, 2, "RM_LOG_LEVEL"),
    ("time-zone", {"RM_TIMEZONE": "Mars/Base"}, LIST, 2, "RM_TIMEZONE"),
    ("cadence-not-json", {CADENCE: "notjson"}, LIST, 2, CADENCE),
    ("cadence-negative", {CADENCE: '{"钻石": -3}'}, LIST, 2, CADENCE),
    ("cadence-unknown-tier", {CADENCE: '{"VIP": 7}'}, LIST, 2, CADENCE),
    ("digest-time", {"RM_DIGEST_TIME": "25:99"}, LIST, 2, "RM_DIGEST_TIME"),
    ("top-k", {"RM_TOP_K": "abc"}, ["ask", "q"], 2, "RM_TOP_K"),
    ("chroma-down", {"CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": "9"}, ["kb", "search", "x"], 1, "CHROMA_"),
    (
        "api-url",
        {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": "notaurl"},
        ["run"],
        2,
        "TELEGRAM_API_BASE_URL",
    ),
    (
        "api-unreachable",
        {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": CLOSED_PORT_API},
        ["run"],
        1,
        "TELEGRAM_API_BASE_URL",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("env", "args", "exit_code", "needle"),
    [pytest.param(*case[1:], id=case[0]) for case in SUBPROCESS_CASES],
)
def test_operator_error_is_one_line(
    tmp_path: Path, env: dict[str, str], args: list[str], exit_code: int, needle: str
) -> None:
    values = dict(env)
    if values.get("RM_DATA_DIR") == "{ro}":
        if os.geteuid() == 0:
            pytest.skip(
                "root writes into a 0o500 directory; covered in test_settings.test_read_only_data_dir"
            )
        read_only = tmp_path / "ro"
        read_only.mkdir(mode=0o500)
        values["RM_DATA_DIR"] = str(read_only)
    elif "RM_DATA_DIR" in values:
        values["RM_DATA_DIR"] = values["RM_DATA_DIR"].replace("{file}", str(_a_file(tmp_path)))
    proc = _run(tmp_path, values, *args)
    line = _assert_one_line(proc.returncode, proc.stdout, proc.stderr, exit_code=exit_code, needle=needle)
    assert TOKEN not in proc.stdout + proc.stderr
    if needle != "DATABASE_URL":
        assert "database" not in line.lower() or needle in line


# Cheaper variants, in-process.
RUNNER_CASES = [
    ("webhook-url", {"TELEGRAM_WEBHOOK_URL": "notaurl"}, ["run"], 2, "TELEGRAM_WEBHOOK_URL"),
    ("file-url", {"TELEGRAM_API_BASE_FILE_URL": "file:///x"}, LIST, 2, "TELEGRAM_API_BASE_FILE_URL"),
    ("llm-url", {"LLM_BASE_URL": "ftp://llm"}, ["ask", "q"], 2, "LLM_BASE_URL"),
    ("cadence-zero", {CADENCE: '{"钻石": 0}'}, LIST, 2, CADENCE),
    ("db-no-driver", {"DATABASE_URL": "postgresql+nodriver://u@h/x"}, LIST, 1, "DATABASE_URL"),
    ("db-no-scheme", {"DATABASE_URL": "garbage"}, ["crm", "search", "x", "--as", "RM001"], 2, "DATABASE_URL"),
    ("several", {"RM_TOP_K": "abc", "RM_TIMEZONE": "Mars/Base"}, LIST, 2, "RM_TOP_K"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("env", "args", "exit_code", "needle"), [pytest.param(*case[1:], id=case[0]) for case in RUNNER_CASES]
)
def test_operator_error_is_one_line_in_process(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], args: list[str], exit_code: int, needle: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, args)
    assert isinstance(result.exception, SystemExit)
    _assert_one_line(result.exit_code, result.stdout, result.stderr, exit_code=exit_code, needle=needle)


def test_verbose_shows_the_traceback_of_an_operator_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE_PG)
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["-v", "staff", "list"])
    assert result.exit_code == 1
    assert "DEBUG bot.cli.errors: operator error" in result.stderr and "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("Error: database unavailable (DATABASE_URL)")


def test_a_bug_is_not_silent(monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.cli.crm as cli_crm

    def broken(*_args: object, **_kwargs: object) -> None:
        raise ZeroDivisionError("client 13812345678 broke it")

    monkeypatch.setattr(cli_crm, "render_table", broken)
    CliRunner().invoke(
        cli, ["staff", "add", "--code", "RM001", "--name", "王敏", "--role", "rm", "--team", "A"]
    )
    result = CliRunner().invoke(cli, ["staff", "list"])
    assert result.exit_code == 1
    assert "unexpected error (please report it)" in result.stderr and "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("Error: unexpected ZeroDivisionError")
    assert "13812345678" not in result.stderr and "138****5678" in result.stderr


def test_command_errors_stay_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["crm", "import-clients", str(tmp_path / "missing.csv")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    # (an INFO line may come first: the operator identity is created on first use)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and result.stderr.rstrip().endswith(errors[0]) and "missing.csv" in errors[0]


@pytest.mark.parametrize("backend", ["aiohttp", "httpx"])
def test_bot_api_check_accepts_a_valid_token(
    fake_bot_api: FakeBotAPI, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    from bot.cli.app import check_bot_api

    for key, value in fake_bot_api.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TELEGRAM_HTTP_BACKEND", backend)
    get_settings.cache_clear()
    check_bot_api(get_settings())  # no exception: the fake answered getMe
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "1:wrong")
    get_settings.cache_clear()
    with pytest.raises(InvalidToken):
        check_bot_api(get_settings())
