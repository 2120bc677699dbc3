"""Cold starts of the CLI: `token list` at 1,000 and 10,000 tokens, `token create`
at 10,000, each beside the floor from the same run.

The floor is the issue's: `python -c "from pydantic import BaseModel"`. Goals:
`token list` <= 1.5x the floor at 1k tokens and <= 2x at 10k, `token create` <=
2.5x at 10k. For context the run also times the floor plus importing `Field`
(which any model class needs, defined or built), plus building one
one-field model - what any program pays the first time it makes a pydantic
model (the schema generator, annotated_types, the plugin loader and its
importlib.metadata) - and plus importing the store file's models
(core.model.schema), and plus validating the 1k and 10k files with them (what
`parse_store` does for a file in another layout): the least a CLI that validated
its store with those models would cost, before it parsed a flag or printed a
line. This program's commands read and write a file in its own layout with
plain records and import no pydantic (core/model/records.py). The last row is
this tree's `token list` at 10k through `core.cli.main` rather than `run`: with
Python's garbage collector left on, as before `run` paused it.

Every command runs in its own process, in rounds, each round running every
command once in turn (interleaved), after a warm-up; bytecode caching is
allowed, as after a normal install, and output goes to a pipe. Two times are
taken per run: CPU (user + sys of the process, from wait4 - steady when other
work shares the cores) and wall. Ratios are paired per round (command / floor of
the same round) and the median is printed; goals are judged on CPU.

    .venv/bin/python benchmarks/cli_bench.py [--runs 15] [--root DIR]

`--root DIR` also times the same commands from another checkout in the same
rounds (before/after): make one with `git worktree add /tmp/before HEAD`. Each
tree's commands run as the console script does (`from tui.launcher import
main`), with PYTHONPATH naming the tree, from a neutral folder, each on its own
copy of the store.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

from core.store import TokenStore, serialize  # noqa: E402
from core.store.file.atomic import atomic_write  # noqa: E402

LAUNCH = "import sys\nfrom tui.launcher import main\nsys.exit(main())"
"""What the `opencode-auth-tui` console script runs."""
LAUNCH_MAIN = "import sys\nfrom core.cli import main\nsys.exit(main())"
"""The same CLI through `main`, without `run`'s paused garbage collector (context)."""
FLOOR = "from pydantic import BaseModel"
ONE_MODEL = "from pydantic import BaseModel\nclass M(BaseModel):\n    x: int"
FIELDS = "from pydantic import BaseModel, Field"
"""What defining any model class needs, built or not: `BaseModel` alone does not
import pydantic.fields (FieldInfo), which brings pydantic.types and annotated_types."""
MODELS = "import core.model.schema"
VALIDATE = (
    "import sys\nfrom core.model.schema import parse_document_json\n"
    "parse_document_json(open(sys.argv[1], 'rb').read())"
)
"""The store's models validating a file, as `parse_store` does for a file in
another layout: no CLI at all."""


@dataclass(frozen=True)
class Row:
    label: str
    argv: list[str]
    env: dict[str, str]
    goal: float | None = None


@dataclass
class Samples:
    cpu: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)


def make_store(folder: Path, count: int) -> Path:
    """A store of `count` tokens in the layout the program writes."""
    path = folder / f"auth-tokens-{count}.json"
    store = TokenStore(path, clock=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    template = store.create(name="template").record
    records = [
        dataclasses.replace(template, id=f"{i:08d}", name=f"token-{i}", digest=f"sha256:{i:064x}")
        for i in range(count)
    ]
    atomic_write(path, serialize(records))
    return path


def copy_store(source: Path, target: Path) -> Path:
    shutil.copyfile(source, target)
    os.chmod(target, 0o600)
    return target


def run(row: Row, cwd: Path) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one run of `row`, which must succeed. The
    child is reaped with wait4, which gives its own CPU time."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(row.argv, env=row.env, cwd=cwd, stdout=subprocess.PIPE, stderr=err)
        assert child.stdout is not None
        with child.stdout:
            while child.stdout.read(1 << 16):
                pass
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            err.seek(0)
            raise SystemExit(f"{row.label} failed ({child.returncode}): {err.read()[-300:]!r}")
    return usage.ru_utime + usage.ru_stime, wall


def tree_rows(
    name: str, root: Path, stores: dict[int, Path], folder: Path, base_env: dict[str, str]
) -> list[Row]:
    env = {**base_env, "PYTHONPATH": str(root)}
    launch = [sys.executable, "-c", LAUNCH]
    own = {
        count: copy_store(path, folder / f"{name}-{count}.json") for count, path in stores.items()
    }
    return [
        Row(
            f"{name}: token list, 1,000 tokens",
            [*launch, "--store", str(own[1_000]), "token", "list"],
            env,
            1.5,
        ),
        Row(
            f"{name}: token list, 10,000 tokens",
            [*launch, "--store", str(own[10_000]), "token", "list"],
            env,
            2.0,
        ),
        Row(
            f"{name}: token create, 10,000 tokens",
            [*launch, "--store", str(own[10_000]), "token", "create"],
            env,
            2.5,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="interleaved rounds (default 15)")
    parser.add_argument("--root", type=Path, default=None, help="another checkout, timed too")
    args = parser.parse_args()

    base_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for name in ("OPENCODE_AUTH_TOKENS_FILE", "OPENCODE_AUTH_DATABASE_URL", "PYTHONPATH"):
        base_env.pop(name, None)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        stores = {count: make_store(folder, count) for count in (1_000, 10_000)}
        plain = {**base_env, "PYTHONPATH": str(HERE)}
        rows = [
            Row(f'floor: python -c "{FLOOR}"', [sys.executable, "-c", FLOOR], plain),
            Row(
                "context: ... and import Field (any model class does)",
                [sys.executable, "-c", FIELDS],
                plain,
            ),
            Row(
                "context: ... and build one one-field model",
                [sys.executable, "-c", ONE_MODEL],
                plain,
            ),
            Row("context: import the store's models", [sys.executable, "-c", MODELS], plain),
            *(
                Row(
                    f"context: the models validate {count:,} tokens",
                    [sys.executable, "-c", VALIDATE, str(path)],
                    plain,
                )
                for count, path in stores.items()
            ),
        ]
        if args.root is not None:
            rows += tree_rows("before", args.root.resolve(), stores, folder, base_env)
        rows += tree_rows("after" if args.root else "this tree", HERE, stores, folder, base_env)
        collecting = copy_store(stores[10_000], folder / "collecting-10000.json")
        rows.append(
            Row(
                "context: token list, 10,000, collector on (main)",
                [sys.executable, "-c", LAUNCH_MAIN, "--store", str(collecting), "token", "list"],
                plain,
            )
        )
        neutral = folder / "cwd"
        neutral.mkdir()
        for row in rows:  # warm-up: page cache, bytecode
            for _ in range(2):
                run(row, neutral)
        samples = {row.label: Samples() for row in rows}
        for _ in range(args.runs):
            for row in rows:
                cpu, wall = run(row, neutral)
                samples[row.label].cpu.append(cpu)
                samples[row.label].wall.append(wall)
        sizes = ", ".join(
            f"{c:,} tokens {p.stat().st_size / 1e6:.1f} MB" for c, p in stores.items()
        )
        report(rows, samples, args.runs, sizes)


def report(rows: list[Row], samples: dict[str, Samples], runs: int, sizes: str) -> None:
    floor = samples[rows[0].label]
    print(
        f"CLI cold starts: median of {runs} interleaved rounds; CPU = user+sys of the process; "
        f"x floor = paired per round\nstores: {sizes}; output to a pipe\n"
    )
    width = max(len(row.label) for row in rows)
    print(f"{'':<{width}} {'CPU ms':>7} {'wall ms':>8} {'CPU x':>6} {'wall x':>7}  goal (CPU)")
    for row in rows:
        got = samples[row.label]
        cpu_ratio = statistics.median(a / b for a, b in zip(got.cpu, floor.cpu, strict=True))
        wall_ratio = statistics.median(a / b for a, b in zip(got.wall, floor.wall, strict=True))
        verdict = ""
        if row.goal is not None:
            verdict = f"<= {row.goal}: {'met' if cpu_ratio <= row.goal else 'MISSED'}"
        print(
            f"{row.label:<{width}} {statistics.median(got.cpu) * 1000:7.1f} "
            f"{statistics.median(got.wall) * 1000:8.1f} {cpu_ratio:6.2f} {wall_ratio:7.2f}"
            f"  {verdict}"
        )


if __name__ == "__main__":
    main()
