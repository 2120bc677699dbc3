"""Cold start of `opencode-auth-tui token list` at 10, 1,000, 10,000 and 100,000 tokens.

Compared, in the same run and interleaved, with `python -c "from pydantic import
BaseModel"` (the issue's floor; goals: ratio <= 1.5 at 1k tokens, <= 2 at 10k),
and - for context - with a script that also *builds* one one-field model, which
is the floor for any tool that validates with pydantic: the first model class
pulls in pydantic's schema generator, its plugin loader (importlib.metadata) and
annotated_types.

Everything runs with bytecode caching allowed (as after a normal `pip install`),
after a warm-up, so nothing pays for compiling its sources. Output goes to a
pipe, as when listing into `less` or a script.

    .venv/bin/python benchmarks/cli_bench.py [--tokens 10 1000 10000 100000] [--runs 15]
                                             [--root DIR]

`--root` times `python -m core token list` from another checkout instead (a git
worktree of an older commit, for before/after tables).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.store import TokenStore, serialize
from core.store.file.atomic import atomic_write

SIZES = (10, 1_000, 10_000, 100_000)
GOALS = {1_000: 1.5, 10_000: 2.0}


def make_store(folder: Path, count: int) -> Path:
    path = folder / f"auth-tokens-{count}.json"
    store = TokenStore(path, clock=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    template = store.create(name="template").record
    records = [
        template.model_copy(
            update={"id": f"{i:08d}", "name": f"token-{i}", "digest": f"sha256:{i:064x}"}
        )
        for i in range(count)
    ]
    atomic_write(path, serialize(records))
    return path


def time_command(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--tokens", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--root", type=Path, default=None, help="another checkout to time")
    args = parser.parse_args()

    if args.root is None:
        tool = [str(Path(sys.executable).with_name("opencode-auth-tui")), "token", "list"]
        label = "opencode-auth-tui token list"
    else:
        tool = [sys.executable, "-m", "core", "token", "list"]
        label = f"python -m core token list ({args.root})"
    floors = {
        "python -c 'from pydantic import BaseModel'": [
            sys.executable,
            "-c",
            "from pydantic import BaseModel",
        ],
        "... and build a one-field model (context)": [
            sys.executable,
            "-c",
            "from pydantic import BaseModel\nclass M(BaseModel):\n    x: int",
        ],
    }
    print(f"cold start, median of {args.runs} interleaved runs, output to a pipe")
    with tempfile.TemporaryDirectory() as tmp:
        for count in args.tokens:
            store = make_store(Path(tmp), count)
            env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
            env["OPENCODE_AUTH_TOKENS_FILE"] = str(store)
            if args.root is not None:
                env["PYTHONPATH"] = str(args.root)
            commands = {label: tool, **floors}
            for argv in commands.values():  # warm-up: page cache and bytecode
                for _ in range(2):
                    time_command(argv, env)
            samples: dict[str, list[float]] = {name: [] for name in commands}
            for _ in range(args.runs):
                for name, argv in commands.items():
                    samples[name].append(time_command(argv, env))
            medians = {name: statistics.median(values) for name, values in samples.items()}
            print(f"\n{count:,} tokens ({store.stat().st_size / 1e6:.2f} MB)")
            for name, value in medians.items():
                p10, *_, p90 = (q * 1000 for q in statistics.quantiles(samples[name], n=10))
                print(f"  {name:<48} {value * 1000:7.1f} ms   (p10 {p10:.1f}, p90 {p90:.1f})")
            cli, floor, model_floor = medians.values()
            goal = GOALS.get(count)
            verdict = "" if goal is None else f"  (goal <= {goal}: "
            verdict += "" if goal is None else ("met)" if cli / floor <= goal else "MISSED)")
            print(f"  ratio to the import:       {cli / floor:5.2f}{verdict}")
            print(f"  ratio to import + a model: {cli / model_floor:5.2f}")


if __name__ == "__main__":
    main()
