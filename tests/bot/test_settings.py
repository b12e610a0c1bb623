"""Settings validation: every malformed value is rejected with a message naming no secret."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.settings import (
    DEFAULT_FOLLOW_UP_CADENCE,
    TIER_ALIASES,
    ConfigurationError,
    Settings,
    derived_webhook_secret,
    webhook_path,
)
from crm_adapter.models import Tier

SECRET = "s3cr3t-Pa55"


def _settings(**env: str) -> Settings:
    return Settings(_env_file=None, **{k.lower(): v for k, v in env.items()})  # type: ignore[call-arg, arg-type]


def _error(field: str, value: str) -> str:
    with pytest.raises(ValidationError) as info:
        _settings(**{field: value})
    [err] = info.value.errors()
    assert err["loc"] == (field.lower(),)
    return str(err["msg"])


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("RM_LOG_LEVEL", "LOUD", "DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ("RM_TIMEZONE", "Mars/Base", "unknown time zone 'Mars/Base'"),
        ("RM_TIMEZONE", "../../etc/passwd", "unknown time zone"),
        ("RM_FOLLOW_UP_CADENCE", "notjson", "JSON object"),
        ("RM_FOLLOW_UP_CADENCE", "[14, 30]", "JSON object"),
        ("RM_FOLLOW_UP_CADENCE", '{"钻石": 0}', "from 1 to 3650, got 0"),
        ("RM_FOLLOW_UP_CADENCE", '{"白金": -7}', "from 1 to 3650, got -7"),
        ("RM_FOLLOW_UP_CADENCE", '{"黄金": 99999}', "from 1 to 3650"),
        ("RM_FOLLOW_UP_CADENCE", '{"钻石": 1.5}', "whole number"),
        ("RM_FOLLOW_UP_CADENCE", '{"钻石": "14"}', "whole number"),
        ("RM_FOLLOW_UP_CADENCE", '{"钻石": true}', "whole number"),
        ("RM_FOLLOW_UP_CADENCE", '{"VIP": 7}', "unknown client tier 'VIP'"),
        ("RM_DIGEST_TIME", "25:99", "time"),
        ("RM_TOP_K", "abc", "integer"),
        ("TELEGRAM_API_BASE_URL", "notaurl", "http:// or https:// URL"),
        ("TELEGRAM_API_BASE_URL", "ftp://files.example/bot", "http:// or https:// URL"),
        ("TELEGRAM_API_BASE_URL", "http://host:99999/bot", "http:// or https:// URL"),
        ("TELEGRAM_API_BASE_FILE_URL", "https:///file/bot", "http:// or https:// URL"),
        ("TELEGRAM_WEBHOOK_URL", "bot.example.com/hook", "http:// or https:// URL"),
        ("LLM_BASE_URL", "localhost:11434", "http:// or https:// URL"),
        ("DATABASE_URL", "garbage://x", "unsupported database 'garbage'"),
        ("DATABASE_URL", "mysql+pymysql://u@h/db", "unsupported database 'mysql'"),
        ("DATABASE_URL", "not a url", "not a database URL"),
    ],
)
def test_malformed_values_are_rejected(field: str, value: str, expected: str) -> None:
    assert expected in _error(field, value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("LLM_BASE_URL", f"http://user:{SECRET}@llm.internal/v1 x"),
        ("TELEGRAM_API_BASE_URL", f"notaurl{SECRET}"),
        ("DATABASE_URL", f"garbage://user:{SECRET}@db/x"),
        ("DATABASE_URL", f"user:{SECRET}@db/x"),
    ],
)
def test_messages_never_repeat_the_value(field: str, value: str) -> None:
    assert SECRET not in _error(field, value)


def test_valid_values_are_normalised() -> None:
    s = _settings(
        RM_LOG_LEVEL="warning",
        RM_TIMEZONE=" Europe/Zurich ",
        RM_FOLLOW_UP_CADENCE='{"diamond": 7, "黄金": 45}',
        TELEGRAM_API_BASE_URL="http://127.0.0.1:8081/bot{token}/test",
        TELEGRAM_WEBHOOK_URL="https://bot.example.com/hook",
        LLM_BASE_URL="http://127.0.0.1:11434/v1",
        DATABASE_URL="postgres://rm@db.internal/rm",
    )
    assert s.rm_log_level == "WARNING" and s.rm_timezone == "Europe/Zurich"
    assert s.rm_follow_up_cadence == {"钻石": 7, "白金": 30, "黄金": 45, "潜在": 90}
    assert s.telegram_api_base_url.endswith("{token}/test")
    for url in ("sqlite:////tmp/x.db", "sqlite://", "postgresql+psycopg://u:p@h:5432/db"):
        assert _settings(DATABASE_URL=url).database_url == url


def test_defaults_are_valid() -> None:
    s = _settings()
    assert s.rm_follow_up_cadence == DEFAULT_FOLLOW_UP_CADENCE and s.rm_log_level == "INFO"


def test_tier_names_match_the_crm() -> None:
    assert set(DEFAULT_FOLLOW_UP_CADENCE) == {t.value for t in Tier}
    assert {TIER_ALIASES[t.name] for t in Tier} == {t.value for t in Tier}


def test_blank_values_in_env_file_mean_unset(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "RM_TIMEZONE=\nDATABASE_URL=\nRM_FOLLOW_UP_CADENCE=\nTELEGRAM_WEBHOOK_URL=\n", encoding="utf-8"
    )
    s = Settings(_env_file=env)  # type: ignore[call-arg]
    assert s.rm_timezone == "Asia/Shanghai" and s.database_url is None and s.telegram_webhook_url is None
    assert s.rm_follow_up_cadence == DEFAULT_FOLLOW_UP_CADENCE


def test_secret_values_cover_token_keys_and_url_passwords() -> None:
    s = _settings(
        TELEGRAM_BOT_TOKEN="123456:ABCdef",
        LLM_API_KEY="sk-test-key",
        TELEGRAM_WEBHOOK_SECRET="hook-secret",
        DATABASE_URL="postgresql+psycopg://rm:p%40ss-word@db/rm",
    )
    assert set(s.secret_values()) == {
        "123456:ABCdef",
        "sk-test-key",
        "hook-secret",
        "p%40ss-word",
        "p@ss-word",
        webhook_path("123456:ABCdef"),  # the webhook URL's path and default secret derive from the token
        derived_webhook_secret("123456:ABCdef"),
    }
    assert _settings().secret_values() == []


# ---------------------------------------------------------------------- the data directory
def test_data_dir_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"^RM_DATA_DIR: .* is not a directory"):
        _settings(RM_DATA_DIR=str(target)).ensure_data_dir()
    with pytest.raises(ConfigurationError, match=r"^RM_DATA_DIR: cannot create .*: Not a directory"):
        _settings(RM_DATA_DIR=str(target / "sub")).ensure_data_dir()


def test_read_only_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "ro"
    target.mkdir()
    target.chmod(0o500)
    try:
        if os.geteuid() == 0:  # root writes anywhere: pretend the kernel said no
            real_access = os.access
            monkeypatch.setattr(
                os, "access", lambda p, mode: False if Path(p) == target else real_access(p, mode)
            )
        with pytest.raises(ConfigurationError, match=r"^RM_DATA_DIR: .* is not writable$"):
            _settings(RM_DATA_DIR=str(target)).ensure_data_dir()
    finally:
        target.chmod(0o700)


def test_configuration_error_is_an_os_error(tmp_path: Path) -> None:
    assert issubclass(ConfigurationError, OSError)
    assert _settings(RM_DATA_DIR=str(tmp_path / "a" / "b")).ensure_data_dir().is_dir()


def test_env_example_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / ".env.example"
    s = Settings(_env_file=example)  # type: ignore[call-arg]
    assert s.rm_follow_up_cadence == DEFAULT_FOLLOW_UP_CADENCE and s.telegram_bot_token is None
