"""The delivery ledger: which digests and spike alerts went out on which channel, kept to once.

Claim before sending. A new delivery is claimed by inserting its row (status `sending`) with
ON CONFLICT DO NOTHING on the unique key (kind, theme, week, channel): of several workers, or
of a worker and its restarted self, exactly one insert succeeds, on PostgreSQL and SQLite
alike, and only that one sends. A failed one is claimed again by a conditional UPDATE
(`failed` → `sending`), which also succeeds for one claimer only. The caller commits the claim
before it sends, so the row is visible to the others while the mail or request is in flight.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from db.models import Delivery

# A failed delivery is retried after 1, 2, 4 … minutes (at most an hour apart), 24 tries in
# all: about a day, long enough for a mail server's maintenance window; then it stays failed.
RETRY_FIRST_SECONDS = 60
RETRY_MAX_SECONDS = 3600
MAX_ATTEMPTS = 24


def retry_delay(attempts: int) -> timedelta:
    """How long after its last try a delivery that failed `attempts` times is tried again."""
    return timedelta(seconds=min(RETRY_MAX_SECONDS, RETRY_FIRST_SECONDS * 2 ** (attempts - 1)))


def claim_new(session: Session, kind: str, theme: str, week: str, channel: str, owner: str,
              now: datetime) -> Delivery | None:
    """Insert the delivery as `sending` for `owner`; None when it already exists (sent,
    failed or being sent by someone else). The caller commits before sending."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (insert(Delivery)
            .values(kind=kind, theme=theme, week=week, channel=channel, status="sending",
                    attempts=1, owner=owner, created_at=now, updated_at=now)
            .on_conflict_do_nothing(index_elements=["kind", "theme", "week", "channel"])
            .returning(Delivery.id))
    new_id = session.execute(stmt).scalar_one_or_none()
    return None if new_id is None else session.get(Delivery, new_id)


def take(session: Session, kind: str, theme: str, week: str, channel: str, owner: str,
         now: datetime) -> Delivery:
    """The delivery claimed for a send by hand (`cait digest --send`): inserted, or taken
    over whatever its state, since the person asked for it to go out again."""
    row = claim_new(session, kind, theme, week, channel, owner, now)
    if row is not None:
        return row
    row = session.scalars(select(Delivery).where(
        Delivery.kind == kind, Delivery.theme == theme, Delivery.week == week,
        Delivery.channel == channel)).one()
    row.status, row.owner, row.updated_at = "sending", owner, now
    row.attempts += 1
    session.flush()
    return row


def claim_retries(session: Session, owner: str, now: datetime,
                  stale_after: timedelta) -> list[Delivery]:
    """Claim the failed deliveries whose retry time has come, and those left `sending` longer
    than `stale_after` by a worker that was killed mid-send. The caller commits."""
    candidates = session.scalars(select(Delivery).where(or_(
        and_(Delivery.status == "failed", Delivery.attempts < MAX_ATTEMPTS),
        and_(Delivery.status == "sending", Delivery.updated_at < now - stale_after)))
        .order_by(Delivery.id)).all()
    claimed = []
    for row in candidates:
        if row.status == "failed" and now < row.updated_at + retry_delay(row.attempts):
            continue
        # conditional on the state just read: of two claimers, one UPDATE matches the row
        done = session.execute(
            update(Delivery)
            .where(Delivery.id == row.id, Delivery.status == row.status,
                   Delivery.updated_at == row.updated_at)
            .values(status="sending", owner=owner, updated_at=now,
                    attempts=Delivery.attempts + 1)
            .execution_options(synchronize_session=False))
        if done.rowcount == 1:  # type: ignore[attr-defined]
            session.refresh(row)
            claimed.append(row)
    return claimed


def finish(session: Session, delivery_id: int, error: str | None, now: datetime) -> None:
    """Record the outcome of a claimed delivery: `sent`, or `failed` with the reason."""
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:  # deleted by hand meanwhile: nothing to record
        return
    delivery.status = "failed" if error else "sent"
    delivery.error = error[:2000] if error else None
    delivery.updated_at = now
    if not error:
        delivery.sent_at = now
    session.flush()
