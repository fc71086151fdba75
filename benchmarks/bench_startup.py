"""Start-up and end-to-end times of the command line: `parity --version`, `--help`, a `compare`, a
`search` and `predict` on 2,000 rows, each a fresh process (what a user waits for).

Run: python benchmarks/bench_startup.py [--src PATH] [--repeat N]
  --src: the `src` folder whose parity to time (default: this checkout's), e.g. another worktree's to
  compare before and after. Prints min and median wall-clock seconds per command.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent / "src"
LAUNCH = "import sys; from parity.cli import main; sys.exit(main())"


def _cases(src: Path, target: Path) -> None:
    """2,000 serving cases: the measured set's rows, repeated, as a user's CASES.csv (each repeat's case ids marked
    '~0', '~1', ...: predict refuses a case id given to two rows)."""
    code = ("import csv, sys; from parity import catalog; from parity.predict import CASE_COLUMNS; "
            "rows = [{k: r.get(k, '') for k in CASE_COLUMNS} for r in catalog.measurements()]; "
            "rows = [{**r, 'case_id': f'{r[\"case_id\"]}~{i // len(rows)}'} "
            "for i, r in enumerate((rows * (2000 // len(rows) + 1))[:2000])]; "
            "w = csv.DictWriter(open(sys.argv[1], 'w', newline=''), fieldnames=CASE_COLUMNS); "
            "w.writeheader(); w.writerows(rows)")
    subprocess.run([sys.executable, "-c", code, str(target)], check=True, env={**os.environ, "PYTHONPATH": str(src)})
    with target.open() as handle:
        assert sum(1 for _ in csv.reader(handle)) == 2001


def _time(src: Path, args: list[str], repeat: int) -> list[float]:
    env = {**os.environ, "PYTHONPATH": str(src), "COLUMNS": "100"}
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", LAUNCH, *args], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"parity {' '.join(args)} failed: {done.stderr.strip()}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=HERE, help="the src folder whose parity to time")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each command (heavy ones: half)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        cases = Path(folder) / "cases.csv"
        _cases(options.src, cases)
        commands = {
            "parity --version": (["--version"], options.repeat),
            "parity --help": (["--help"], options.repeat),
            "parity compare cloudmatrix-384 gb200-nvl72 --model deepseek-r1":
                (["compare", "cloudmatrix-384", "gb200-nvl72", "--model", "deepseek-r1"], max(options.repeat // 2, 1)),
            "parity search --model deepseek-r1 --system gb200-nvl72 --tpot 50ms":
                (["search", "--model", "deepseek-r1", "--system", "gb200-nvl72", "--tpot", "50ms"],
                 max(options.repeat // 2, 1)),
            "parity predict CASES.csv (2,000 rows)": (["predict", str(cases), "--model-kind", "steady", "--format", "csv"],
                                                      max(options.repeat // 2, 1)),
        }
        print(f"parity from {options.src}")
        for label, (args, repeat) in commands.items():
            times = _time(options.src, args, repeat)
            print(f"{label:<70} min {min(times):6.2f} s  median {statistics.median(times):6.2f} s  ({repeat} runs)")


if __name__ == "__main__":
    main()
