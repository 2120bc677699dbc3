"""Stores and apps for the Pilot tests, the snapshot tests and the screenshot script.

Everything is pinned: a fixed clock, a seeded secret source (never a CSPRNG, so no
real-looking secret ends up in a committed SVG), a store under a fake home folder
(`<root>/home/.config/opencode/auth-tokens.json`, shown as `~/.config/...` in the
header whatever `<root>` is), no file polling, no cursor blinking and a fake
clipboard.
"""

from __future__ import annotations

import dataclasses
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.model.records import TokenRecord
from core.store import TokenStore, serialize
from core.store.file.atomic import atomic_write, ensure_private_dir
from tests.tui.helpers import listen_for_notifications
from tui.app import AuthApp

NOW = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)
SEED = 8217
CONTROL_NAME = "nightly\x1b[31m[bold]build"
"""A name only a hand-edited file can hold: an escape sequence and Rich markup."""


class FakeClipboard:
    """A system clipboard that works, or (with `broken=True`) is missing like over SSH."""

    def __init__(self, *, broken: bool = False) -> None:
        self.broken = broken
        self.text = ""
        self.copies: list[str] = []

    def copy(self, text: str) -> None:
        if self.broken:
            raise RuntimeError(
                "Pyperclip could not find a copy/paste mechanism for your system.\nMore text"
            )
        self.text = text
        self.copies.append(text)

    def paste(self) -> str:
        if self.broken:
            raise RuntimeError("Pyperclip could not find a copy/paste mechanism for your system.")
        return self.text


@dataclass
class Sandbox:
    """A fake home folder holding one store file, and a seeded source of secrets."""

    root: Path
    seed: int = SEED
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def path(self) -> Path:
        return self.home / ".config" / "opencode" / "auth-tokens.json"

    def store(self, *, now: datetime = NOW) -> TokenStore:
        return TokenStore(self.path, clock=lambda: now, token_bytes=self.rng.randbytes)

    def app(
        self,
        *,
        store: TokenStore | None = None,
        clipboard: FakeClipboard | None = None,
        poll_interval: float | None = None,
        clipboard_clear_after: float | None = None,
        cwd: Path | None = None,
    ) -> AuthApp:
        app = AuthApp(
            store or self.store(),
            poll_interval=poll_interval,
            clipboard=clipboard or FakeClipboard(),
            clipboard_clear_after=clipboard_clear_after,
            home=self.home,
            cwd=cwd if cwd is not None else self.home / "src",
            cursor_blink=False,
        )
        listen_for_notifications(app)
        return app

    # --- file contents -------------------------------------------------------------

    def write_records(self, records: list[TokenRecord]) -> None:
        """Write records as a hand-edit would (no validation of names)."""
        ensure_private_dir(self.path.parent)
        atomic_write(self.path, serialize(records))

    def write_bytes(self, data: bytes) -> None:
        ensure_private_dir(self.path.parent)
        atomic_write(self.path, data)

    def populate(self) -> dict[str, TokenRecord]:
        """Five tokens: active, never-expiring, expiring in 5 days, expired 2 days ago,
        and one whose name was hand-written with control characters and markup."""

        def create(name: str, permissions: str, expires: str, days_ago: float) -> TokenRecord:
            store = self.store(now=NOW - timedelta(days=days_ago))
            return store.create(name=name, permissions=permissions, expires=expires).record

        records = {
            "ci-deploy": create("ci-deploy", "read,write", "90d", 1),
            "laptop": create("laptop", "read,write,execute", "never", 40),
            "grafana-agent": create("grafana-agent", "read", "90d", 85),
            "old-staging": create("old-staging", "read,write", "30d", 32),
            "placeholder": create("placeholder", "read,execute", "1y", 3),
        }
        store = self.store()
        store.record_usage(
            {
                records["ci-deploy"].id: NOW - timedelta(hours=3),
                records["laptop"].id: NOW - timedelta(days=2),
                records["old-staging"].id: NOW - timedelta(days=3),
            }
        )
        hand_written = dataclasses.replace(store.get("placeholder"), name=CONTROL_NAME)
        others = [r for r in store.tokens() if r.id != hand_written.id]
        self.write_records([*others, hand_written])
        records.pop("placeholder")
        records[CONTROL_NAME] = hand_written
        return {r.name: r for r in self.store().tokens()}

    def corrupt(self) -> bytes:
        """A truncated store file (as a crashed editor might leave it)."""
        data = b'{\n  "version": 1,\n  "tokens": [\n    {"id": "abcd1234",\n'
        self.write_bytes(data)
        return data

    def legacy(self) -> bytes:
        """A file in the PR #8217 format: a bare array, plain-text secrets, epoch ms."""
        created = int((NOW - timedelta(days=10)).timestamp() * 1000)
        entries = [
            {
                "token": f"legacy-example-secret-{n:04d}",
                "permissions": perms,
                "createdAt": created,
                "expiresAt": expires,
                **({"name": name} if name else {}),
            }
            for n, (name, perms, expires) in enumerate(
                [
                    ("ci", ["read", "write"], created + 90 * 86_400_000),
                    ("desktop", ["read", "write", "execute"], None),
                    (None, ["read"], created + 30 * 86_400_000),
                ]
            )
        ]
        data = (json.dumps(entries, indent=2) + "\n").encode()
        self.write_bytes(data)
        return data


def many_records(count: int, *, seed: int = SEED) -> list[TokenRecord]:
    """`count` valid records (for the benchmark), built without the store's lock."""
    from core.model.permissions import Permission
    from core.model.token_format import digest, generate, new_id

    rng = random.Random(seed)
    records = []
    for n in range(count):
        secret = generate(rng.randbytes)
        created = NOW - timedelta(days=n % 400)
        expires = None if n % 7 == 0 else created + timedelta(days=30 + n % 365)
        records.append(
            TokenRecord(
                id=new_id(rng.randbytes),
                name=f"service-{n:05d}",
                permissions=(Permission.READ, Permission.WRITE) if n % 3 else (Permission.READ,),
                created_at=created,
                expires_at=expires,
                last_used_at=None if n % 2 else NOW - timedelta(minutes=n),
                hint=secret.hint,
                digest=digest(secret.reveal()),
            )
        )
    return records
