"""Re-derive the engine_kernels.toml ratios that go through parity's fitted profiles (parity.derive_kernels).

    PYTHONPATH=src python scripts/derive_engine_kernels.py          # check: a table, exit 1 if a ratio drifted
    PYTHONPATH=src python scripts/derive_engine_kernels.py --write  # rewrite the drifted ratios and the sentences

Run it after the steady CUDA refit (parity validate --model-kind steady --fit --write-to repo) and before
--fit-stacks: the SGLang and vLLM profiles it prices with are the CUDA fits. --write edits the time_ratio and
derivation lines of src/parity/data/engine_kernels.toml in place (comments and layout kept) and closes each derived
entry's derivation with one machine-written sentence of the figures, replacing the one an earlier run wrote."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from parity import catalog
from parity.derive_kernels import decimals, derive_all, drifted, rewrite, stored_ratios

FILE = Path(__file__).resolve().parents[1] / "src" / "parity" / "data" / "engine_kernels.toml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite engine_kernels.toml's derived ratios")
    parser.add_argument("--verbose", action="store_true", help="print each derivation's figures")
    args = parser.parse_args()
    if FILE.resolve() != (catalog.data_dir() / "engine_kernels.toml").resolve():
        print(f"parity runs from {catalog.data_dir()}, not from this checkout: set PYTHONPATH=src", file=sys.stderr)
        return 2
    start = time.perf_counter()
    text = FILE.read_text()
    stored = stored_ratios(text)
    derived = derive_all(stored)
    print(f"{'derivation':<22} {'entries':<48} {'stored':>7} {'derived':>9} {'drift':>7}")
    drifts = 0
    for d in derived:
        written = stored[d.entries[0]]
        ops = ", ".join(sorted({e[3] for e in d.entries}))
        entries = f"{d.entries[0][0]} {d.entries[0][1]} {d.entries[0][2]}: {ops}"
        flag = drifted(d, stored)
        drifts += flag
        print(f"{d.name:<22} {entries[:48]:<48} {written:>7} {d.ratio:>9.{decimals(written) + 2}f} "
              f"{(d.ratio / float(written) - 1) * 100:>+6.1f}%{'  DRIFT' if flag else ''}")
        if args.verbose:
            print(f"    {d.figures}")
    print(f"{len(derived)} derivations, {drifts} drifted past their rounding ({time.perf_counter() - start:.1f} s)")
    rewritten = rewrite(text, derived)
    if rewritten != text and not args.write:
        print("the derivation texts quote other figures than today's (--write rewrites them)")
    if args.write:
        FILE.write_text(rewritten)
        print(f"wrote {FILE}")
        return 0
    return 1 if drifts else 0


if __name__ == "__main__":
    sys.exit(main())
