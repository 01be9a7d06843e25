"""Settings: every environment variable cait reads, with its default and one line of help.

This is the only module that reads `os.environ`. Everything else receives a `Settings`
object (or a value taken from one), so tests can build their own without touching the
process environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "cait"


def _setting(env: str, default: Any, help: str) -> Any:
    return field(default=default, metadata={"env": env, "help": help})


@dataclass(frozen=True)
class Settings:
    """Runtime configuration; build it with `load_settings()`."""

    data_dir: Path = _setting(
        "CAIT_DATA_DIR", _default_data_dir(),
        "Where the default SQLite database, models and digests live "
        "(default `$XDG_DATA_HOME/cait`, i.e. `~/.local/share/cait`).")
    database_url: str = _setting(
        "DATABASE_URL", "",
        "SQLAlchemy URL of the database; empty means `sqlite:///$CAIT_DATA_DIR/cait.db`. "
        "PostgreSQL: `postgresql+psycopg://user@host:5432/dbname`.")
    model_dir: str = _setting(
        "CAIT_MODEL_DIR", "",
        "Directory of trained classifier models; empty means `$CAIT_DATA_DIR/models`.")
    concurrency: int = _setting(
        "CAIT_CONCURRENCY", 16, "Requests in flight at once across all hosts.")
    host_concurrency: int = _setting(
        "CAIT_HOST_CONCURRENCY", 2, "Requests in flight at once to one host.")
    host_delay_seconds: float = _setting(
        "CAIT_HOST_DELAY_SECONDS", 5.0, "Minimum seconds between request starts to one host.")
    parse_processes: int | str = _setting(
        "CAIT_PARSE_PROCESSES", "auto",
        "Processes that parse feeds and extract pages beside the one that fetches and writes "
        "(`auto` = one per core this process may use, started as work arrives; 0 = do it all "
        "in one process).")
    connect_timeout: float = _setting(
        "CAIT_CONNECT_TIMEOUT", 10.0, "Seconds to wait for a TCP/TLS connection.")
    read_timeout: float = _setting(
        "CAIT_READ_TIMEOUT", 20.0, "Seconds to wait between two chunks of a response.")
    total_timeout: float = _setting(
        "CAIT_TOTAL_TIMEOUT", 60.0,
        "Seconds one request may take in all, body included (stops slow-drip servers).")
    max_redirects: int = _setting("CAIT_MAX_REDIRECTS", 5, "Redirects followed per request.")
    max_bytes: int = _setting(
        "CAIT_MAX_BYTES", 10_000_000,
        "Cap on a response body after decompression; larger bodies are cut off and rejected.")
    user_agent: str = _setting(
        "CAIT_USER_AGENT", "cait/0.1 (China-AI coverage tracker; python-httpx)",
        "User-Agent header sent with every request.")
    allow_private_networks: bool = _setting(
        "CAIT_ALLOW_PRIVATE_NETWORKS", False,
        "Let links found on third-party pages lead to loopback/private addresses (tests only).")
    respect_robots: bool = _setting(
        "CAIT_RESPECT_ROBOTS", True, "Obey robots.txt for article pages.")
    min_interval_seconds: int = _setting(
        "CAIT_MIN_INTERVAL_SECONDS", 600, "Shortest poll interval of a source.")
    max_interval_seconds: int = _setting(
        "CAIT_MAX_INTERVAL_SECONDS", 86_400, "Longest poll interval (and backoff cap) of a source.")
    default_interval_seconds: int = _setting(
        "CAIT_DEFAULT_INTERVAL_SECONDS", 3_600, "Poll interval of a new source.")
    related_depth: int = _setting(
        "CAIT_RELATED_DEPTH", 1, "How many hops of Related-News links to follow from an article.")
    related_per_run: int = _setting(
        "CAIT_RELATED_PER_RUN", 200, "Most related links followed in one collection pass.")
    full_text_per_source: int = _setting(
        "CAIT_FULL_TEXT_PER_SOURCE", 30,
        "Most article pages fetched for full text per source per pass (the rest keep the summary).")
    backfill_per_run: int = _setting(
        "CAIT_BACKFILL_PER_RUN", 500,
        "Most past article pages one `cait backfill` run fetches (run it again for the rest).")
    lease_seconds: int = _setting(
        "CAIT_LEASE_SECONDS", 900,
        "How long a worker's claim on a source lasts; a crashed worker's sources are due "
        "again after it.")
    claim_batch: int = _setting(
        "CAIT_CLAIM_BATCH", 200, "Most sources one worker claims for one collection pass.")
    collect_every_seconds: int = _setting(
        "CAIT_COLLECT_EVERY_SECONDS", 60,
        "How often the worker looks for due sources (each source keeps its own interval).")
    heartbeat_seconds: int = _setting(
        "CAIT_HEARTBEAT_SECONDS", 30, "How often the worker records that it is alive.")
    digest_cron: str = _setting(
        "CAIT_DIGEST_CRON", "mon 06:00",
        "When the worker writes the weekly digest of the last complete ISO week "
        "(`DAY HH:MM`, UTC).")
    worker_id: str = _setting(
        "CAIT_WORKER_ID", "", "Name of this worker in heartbeats and leases (default host-pid).")
    smtp_url: str = _setting(
        "CAIT_SMTP_URL", "",
        "Mail server for digests and spike alerts: `smtp://host:port`, `smtps://host:port` "
        "(TLS) or `smtp+starttls://user:pass@host:port`; empty means no email.")
    smtp_from: str = _setting(
        "CAIT_SMTP_FROM", "cait@localhost", "From address of the emails cait sends.")
    digest_to: str = _setting(
        "CAIT_DIGEST_TO", "", "Comma-separated addresses that receive digests and alerts.")
    webhook_url: str = _setting(
        "CAIT_WEBHOOK_URL", "",
        "URL that receives a JSON summary (Slack-compatible) of each digest and spike alert; "
        "empty means no webhook.")
    webhook_secret: str = _setting(
        "CAIT_WEBHOOK_SECRET", "",
        "Key of the `X-Cait-Signature: sha256=<hex>` HMAC of each webhook body; empty: unsigned.")
    fetch_log_days: int = _setting(
        "CAIT_FETCH_LOG_DAYS", 90, "Days of fetch_log rows kept.")
    log_level: str = _setting("CAIT_LOG_LEVEL", "INFO", "Logging level of the CLI and worker.")
    web_users: str = _setting(
        "CAIT_WEB_USERS", "",
        "Users of `cait serve`: `name:hash` pairs, comma-separated (hashes from `cait web-user "
        "add NAME`).")
    web_users_file: str = _setting(
        "CAIT_WEB_USERS_FILE", "",
        "A file of `name:hash` lines, one user a line (read beside `CAIT_WEB_USERS`).")
    web_login_required: bool = _setting(
        "CAIT_WEB_LOGIN_REQUIRED", False,
        "Require login to read the dashboard and API too (writes always need login).")
    web_https: bool = _setting(
        "CAIT_WEB_HTTPS", False,
        "The dashboard is reached over HTTPS (a TLS proxy in front): its session cookie is sent "
        "only over HTTPS (Secure) and browsers are told to keep to HTTPS (HSTS).")
    web_secret: str = _setting(
        "CAIT_WEB_SECRET", "",
        "Key that signs the dashboard's session cookies; empty means one generated into "
        "`$CAIT_DATA_DIR/web-secret`.")

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'cait.db'}"

    @property
    def effective_model_dir(self) -> Path:
        return Path(self.model_dir) if self.model_dir else self.data_dir / "models"

    @property
    def parse_process_count(self) -> int:
        """CAIT_PARSE_PROCESSES as a number: `auto` is the cores this process may use. A
        full-text pass is extraction-bound while the fetching process is mostly idle; on two
        cores two parser processes measured faster than one (issue 18, bench/README.md)."""
        if isinstance(self.parse_processes, int):
            return max(0, self.parse_processes)
        try:
            return len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            return os.cpu_count() or 1


def _convert(raw: str, current: Any, env: str) -> Any:
    if isinstance(current, bool):
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off", ""}:
            return False
        raise ValueError(f"{env} must be a boolean (1/0, true/false), got {raw!r}")
    try:
        if isinstance(current, int):
            return int(raw)
        if isinstance(current, float):
            return float(raw)
    except ValueError:
        raise ValueError(f"{env} must be a number, got {raw!r}") from None
    if isinstance(current, Path):
        return Path(raw).expanduser()
    if current == "auto":  # a number, or auto
        if raw.strip().lower() == "auto":
            return "auto"
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"{env} must be a number or auto, got {raw!r}") from None
    return raw


def load_settings(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Build Settings from the environment (or `environ`), then apply keyword overrides."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    defaults = Settings()
    for f in fields(Settings):
        name = f.metadata["env"]
        if name in env:
            values[f.name] = _convert(env[name], getattr(defaults, f.name), name)
    values.update(overrides)
    return Settings(**values)


def documented_settings() -> list[tuple[str, str, str]]:
    """(variable, default, help) for every setting, for the README and `cait config`."""
    defaults = Settings()
    rows = []
    for f in fields(Settings):
        default = getattr(defaults, f.name)
        if f.name == "data_dir":
            default = "~/.local/share/cait"
        rows.append((f.metadata["env"], str(default), f.metadata["help"]))
    return rows
