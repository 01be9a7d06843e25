"""Who may do what on the dashboard: users with Argon2 password hashes, signed-cookie sessions,
CSRF tokens on every write.

Users come from `CAIT_WEB_USERS` (`alice:$argon2id$…,bob:$argon2id$…`) and the file
`CAIT_WEB_USERS_FILE` (one `name:hash` a line); `cait web-user add NAME` makes a line.
Argon2id via argon2-cffi (its default parameters, RFC 9106); a hash never leaves the server.
The session cookie is signed by Starlette's SessionMiddleware (itsdangerous) with
`CAIT_WEB_SECRET`, else a key generated once into `$CAIT_DATA_DIR/web-secret`.
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from common.errors import UserError
from config import Settings

_HASHER = PasswordHasher()
NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,100}$")
# Argon2 hashes hold commas (`m=65536,t=3,p=4`): a comma starts a new user only before `name:$`.
_SPLIT = re.compile(r",(?=\s*[A-Za-z0-9_.@-]+:\$)")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def user_line(name: str, password: str) -> str:
    """The `name:hash` entry for `CAIT_WEB_USERS` or the users file."""
    if not NAME.match(name):
        raise UserError("a user name is 1-100 letters, digits, or . _ @ -")
    if len(password) < 8:
        raise UserError("a password needs at least 8 characters")
    return f"{name}:{hash_password(password)}"


def _parse(entries: list[str], where: str) -> dict[str, str]:
    users: dict[str, str] = {}
    for entry in entries:
        entry = entry.strip()
        if not entry or entry.startswith("#"):
            continue
        name, sep, hashed = entry.partition(":")
        if not sep or not NAME.match(name) or not hashed.startswith("$argon2"):
            raise UserError(f"{where}: each user is NAME:ARGON2-HASH (from `cait web-user add "
                            f"NAME`), not {entry[:40]!r}")
        users[name] = hashed
    return users


def load_users(settings: Settings) -> dict[str, str]:
    """Every user name with its password hash; a malformed entry is one line."""
    users = _parse(_SPLIT.split(settings.web_users), "CAIT_WEB_USERS")
    if settings.web_users_file:
        path = Path(settings.web_users_file)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise UserError(f"cannot read CAIT_WEB_USERS_FILE {path}: "
                            f"{error.strerror or error}") from None
        users.update(_parse(lines, str(path)))
    return users


def add_to_file(path: Path, line: str) -> None:
    """Write a user's line into the users file, replacing that user's old line."""
    name = line.partition(":")[0]
    try:
        kept = [old for old in path.read_text(encoding="utf-8").splitlines()
                if old.partition(":")[0] != name] if path.exists() else []
        path.write_text("\n".join([*kept, line]) + "\n", encoding="utf-8")
        path.chmod(0o600)
    except OSError as error:
        raise UserError(f"cannot write {path}: {error.strerror or error}") from None


def verify(users: dict[str, str], name: str, password: str) -> bool:
    hashed = users.get(name)
    if hashed is None:
        # the same work for an unknown name, so timing does not tell which names exist
        hashed = _DUMMY
    try:
        ok = _HASHER.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False
    return ok and name in users


_DUMMY = _HASHER.hash("not a password of anyone")


def session_secret(settings: Settings) -> str:
    """The cookie-signing key: the setting, else one generated once into the data directory."""
    if settings.web_secret:
        return settings.web_secret
    path = settings.data_dir / "web-secret"
    try:
        if path.exists():
            return path.read_text(encoding="utf-8").strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        key = secrets.token_urlsafe(48)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(key + "\n")
        return key
    except FileExistsError:  # another server made it first
        return path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise UserError(f"cannot keep the session key in {path}: "
                        f"{error.strerror or error} (set CAIT_WEB_SECRET)") from None


def csrf_token(session: dict[str, object]) -> str:
    """This session's CSRF token, made on first use (synchronizer-token pattern, OWASP)."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def csrf_ok(session: dict[str, object], given: str | None) -> bool:
    token = session.get("csrf")
    return isinstance(token, str) and given is not None and hmac.compare_digest(token, given)
