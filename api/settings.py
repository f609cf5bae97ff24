"""Settings from the environment (prefix ``CUSTODY_``). The only place that reads it.

Every setting is documented in ``docs/settings.md``; keep the two in step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from custody.errors import InputError
from labels.payload import link_base

__all__ = ["Settings"]

_PLACEHOLDERS = {"changeme", "changethis", "secret", "password", "0" * 16, "changemechangeme"}


class Settings(BaseSettings):
    """Runtime configuration of the service and the command line."""

    model_config = SettingsConfigDict(env_prefix="CUSTODY_", env_file=None, extra="ignore")

    data_dir: Path = Field(
        default=Path("data"),
        description="Folder for the embedded database and other local state.",
    )
    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the database. Unset: SQLite at <data_dir>/custody.sqlite3. "
            "PostgreSQL: postgresql://user@host:5432/dbname."
        ),
    )
    host: str = Field(default="127.0.0.1", description="Address the service listens on.")
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description=(
            "Base URL the public reaches the service at, e.g. https://hjj.sc.gov.cn: printed "
            "labels' QR codes link to <public_url>/V/<signed label>. Its path, if any, in "
            "capitals (QR alphanumeric mode). Empty: the QR holds the bare signed text."
        ),
    )
    port: int = Field(default=8000, ge=1, le=65535, description="Port the service listens on.")
    migrate_on_start: bool | None = Field(
        default=None,
        description=(
            "Apply migrations when the service starts. Unset: yes on the embedded SQLite "
            "default, no on a server database (run `custody db upgrade` there)."
        ),
    )
    waste_list_edition: Literal["2021"] = Field(
        default="2021",
        description="Edition of the National Hazardous Waste List new containers are coded under.",
    )
    key_encryption_key: SecretStr | None = Field(
        default=None,
        description=(
            "Secret that encrypts signing keys at rest (at least 16 characters). Unset: on the "
            "embedded default a random one is made in <data_dir>/key-encryption.key; a server "
            "database refuses to start without it."
        ),
    )
    log_origin: str = Field(
        default="custody.localhost/log",
        pattern=r"^[A-Za-z0-9.\-]+(/[A-Za-z0-9.\-]+)*$",
        description=(
            "The ledger's origin line in every checkpoint, e.g. hjj.sc.gov.cn/custody/2026: "
            "a name witnesses and auditors know the log by. Fixed for the life of a log."
        ),
    )
    road_network: Path | None = Field(
        default=None,
        description=(
            "OpenStreetMap extract (PBF) the route checks run on. Unset: the extract shipped "
            "in routes/data. Built once and cached under <data_dir>/roads."
        ),
    )
    checker: bool = Field(
        default=True, description="Run the checker in the service as events arrive."
    )
    check_interval_s: float = Field(
        default=5.0,
        gt=0,
        description="Seconds between re-checks of the containers new events name.",
    )
    check_sweep_s: float = Field(
        default=600.0,
        gt=0,
        description=(
            "Seconds between sweeps of the whole ledger (with route checks): deadlines, "
            "storage limits, mass balance and licence capacity need the whole picture."
        ),
    )
    auth: bool = Field(
        default=True,
        description=(
            "Require an account for everything but the public pages and reference data. "
            "Switch off only on a closed test bench: everyone then acts as an administrator."
        ),
    )
    session_hours: float = Field(
        default=12.0, gt=0, le=24 * 30, description="How long a login on the pages lasts."
    )
    token_days: float = Field(
        default=90.0, gt=0, le=3650, description="Default lifetime of a token issued to a program."
    )
    write_rate_per_minute: float = Field(
        default=600.0,
        gt=0,
        description="Writes an account may make per minute, sustained (token bucket refill).",
    )
    write_burst: int = Field(
        default=120, ge=1, description="Writes an account may make at once before the rate applies."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Log level of the service."
    )

    @field_validator("key_encryption_key")
    @classmethod
    def _no_weak_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        secret = value.get_secret_value()
        if len(secret) < 16 or secret.lower() in _PLACEHOLDERS:
            msg = "CUSTODY_KEY_ENCRYPTION_KEY must be a real secret of at least 16 characters"
            raise ValueError(msg)
        return value

    @field_validator("public_url")
    @classmethod
    def _printable_public_url(cls, value: str) -> str:
        if value.strip():
            try:
                link_base(value)
            except InputError as exc:
                raise ValueError(exc.message) from None
        return value.strip()

    @property
    def effective_database_url(self) -> str:
        """The database URL in use, with the embedded default filled in."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'custody.sqlite3'}"

    @property
    def is_embedded(self) -> bool:
        """Whether the database is the embedded SQLite file."""
        return self.effective_database_url.startswith("sqlite")

    @property
    def should_migrate_on_start(self) -> bool:
        """Whether the service applies migrations itself when it starts."""
        return self.is_embedded if self.migrate_on_start is None else self.migrate_on_start
