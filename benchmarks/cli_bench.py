"""Cold-start time of `opencode-auth-tui token list` with 1,000 tokens.

Compared, in the same run and interleaved, with `python -c "from pydantic import
BaseModel"` (the issue's reference; goal: ratio <= 1.5), and - for context - with a
script that also *builds* one one-field model, which is the floor for any tool that
validates with pydantic: the first model class pulls in pydantic's plugin loader
(importlib.metadata), annotated_types and the schema builder.

Both run with bytecode caching allowed (as after a normal `pip install`), after a
warm-up, so neither pays for compiling its sources.

    .venv/bin/python benchmarks/cli_bench.py [--runs 30]
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

from core.atomic import atomic_write
from core.store import TokenStore, serialize


def make_store(folder: Path, count: int) -> Path:
    path = folder / "auth-tokens.json"
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
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--tokens", type=int, default=1000)
    args = parser.parse_args()

    script = Path(sys.executable).with_name("opencode-auth-tui")
    with tempfile.TemporaryDirectory() as tmp:
        store = make_store(Path(tmp), args.tokens)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["OPENCODE_AUTH_TOKENS_FILE"] = str(store)
        commands = {
            "opencode-auth-tui token list": [str(script), "token", "list"],
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
        for argv in commands.values():  # warm-up: page cache and bytecode
            for _ in range(3):
                time_command(argv, env)
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, argv in commands.items():
                samples[name].append(time_command(argv, env))

    medians = {name: statistics.median(values) for name, values in samples.items()}
    print(f"cold start, median of {args.runs} runs, {args.tokens} tokens in the store")
    for name, value in medians.items():
        p10, *_, p90 = (q * 1000 for q in statistics.quantiles(samples[name], n=10))
        print(f"  {name:<45} {value * 1000:7.1f} ms   (p10 {p10:.1f}, p90 {p90:.1f})")
    cli, floor, model_floor = medians.values()
    print(f"  ratio to the import:       {cli / floor:.2f}  (goal <= 1.5)")
    print(f"  ratio to import + a model: {cli / model_floor:.2f}")


if __name__ == "__main__":
    main()
