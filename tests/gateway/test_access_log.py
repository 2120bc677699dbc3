"""The access log's lines (the same JSON as json.dumps would write) and their
batched writing."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from core.gateway.access_log import BufferedLog, format_line

WHEN = datetime(2026, 12, 2, 3, 4, 5, 678000, tzinfo=UTC)


def reference(**fields: object) -> str:
    when = fields.pop("when")
    assert isinstance(when, datetime)
    method = fields.pop("method")
    assert isinstance(method, str)
    duration = fields.pop("duration")
    assert isinstance(duration, float)
    return json.dumps(
        {
            "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "service": fields["service"],
            "method": method[:32],
            "path": fields["path"],
            "status": fields["status"],
            "reason": fields["reason"],
            "rule": fields["rule"],
            "token_id": fields["token_id"],
            "duration_ms": round(duration * 1000, 3),
            "remote": fields["remote"],
        },
        ensure_ascii=True,
        separators=(",", ":"),
    )


TEXT = st.text(st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    ['a"b', "a\\b", "\x00\x1f\x7f", "\u2028", "é", "GET /session/{sessionID}", ""]
)


@settings(max_examples=500, deadline=None)
@given(
    method=TEXT,
    path=TEXT,
    reason=TEXT,
    rule=st.none() | TEXT,
    token_id=st.none() | TEXT,
    remote=st.none() | TEXT,
    status=st.integers(100, 599),
    duration=st.floats(0, 1e6, allow_nan=False),
    ms=st.integers(0, 10**9),
)
def test_a_line_is_what_json_dumps_writes(
    method: str,
    path: str,
    reason: str,
    rule: str | None,
    token_id: str | None,
    remote: str | None,
    status: int,
    duration: float,
    ms: int,
) -> None:
    fields = dict(
        when=WHEN + timedelta(milliseconds=ms),
        service="gateway",
        method=method,
        path=path,
        status=status,
        reason=reason,
        rule=rule,
        token_id=token_id,
        duration=duration,
        remote=remote,
    )
    line = format_line(**fields)  # type: ignore[arg-type]
    assert line == reference(**fields)
    assert line.isascii() and "\n" not in line


async def test_lines_are_written_in_batches_soon_after() -> None:
    out = io.StringIO()
    log = BufferedLog(out, delay=0.05)
    log.write("one")
    log.write("two")
    assert out.getvalue() == ""  # not yet: a batch
    await asyncio.sleep(0.2)
    assert out.getvalue() == "one\ntwo\n"
    log.write("three")
    log.close()  # what is waiting is written at the end
    assert out.closed


async def test_a_full_batch_is_written_at_once() -> None:
    out = io.StringIO()
    log = BufferedLog(out, delay=60, limit=100)
    for i in range(30):
        log.write(f"line {i:02d}")
    written = out.getvalue().splitlines()
    assert written and written == [f"line {i:02d}" for i in range(len(written))]
    log.flush()
    assert out.getvalue().splitlines() == [f"line {i:02d}" for i in range(30)]


def test_without_an_event_loop_a_line_is_written_at_once() -> None:
    out = io.StringIO()
    BufferedLog(out).write("now")
    assert out.getvalue() == "now\n"


class Failing(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.broken = True

    def write(self, text: str) -> int:
        if self.broken:
            raise OSError(28, "No space left on device")
        return super().write(text)


def test_a_failing_disk_is_reported_once_and_logging_resumes() -> None:
    out = Failing()
    warnings: list[str] = []
    log = BufferedLog(out, warn=warnings.append)
    for i in range(3):
        log.write(f"lost {i}")
    assert warnings == [
        "access log: cannot write ([Errno 28] No space left on device); "
        "lines are dropped until it works"
    ]
    out.broken = False
    log.write("back")
    assert out.getvalue() == "back\n"
    assert warnings[-1] == "access log: writing again"
