"""Sweeps: a grid (or a random sample of it) over systems, what-if chip variants, models, workloads and
layouts, priced with `predict` in chunks on local processes or on a Ray cluster.

A spec is TOML:

    [sweep]
    mode = "grid"            # or "random", with `samples` and `seed`
    [[variant]]              # what-if chips: a catalog chip with fields (VARIANT_FIELDS) scaled or set
    name = "910c-2x-bw"      # a name of its own, not a catalog system's or chip's
    chip = "huawei-ascend-910c"
    scale = { memory_bytes_per_s = 2.0 }             # factors in [1e-6, 1e6]
    values = { peak_flop_per_s = { fp8 = 1.6e15 } }  # SI units; peak rates per format; unit_price_usd in USD;
    # scale_up_bytes_per_s and scale_out_bytes_per_s per direction (an "800 GB/s" quoted both ways is 400e9)
    # values = { native = ["fp8"], peak_flop_per_s = { fp8 = 1.6e15 } }: a format the chip gains a unit for
    [axes]                   # every key is a predict column (or `variant`); each a list of values
    system = ["atlas-800-a3", "hgx-h20"]
    variant = ["910c-2x-bw"]  # run in the chip's default system
    model = ["deepseek-r1"]
    isl = [1024, 8192]
    ...
Results are identical whichever executor runs them: each chunk is the same pure function of its rows.
"""

from parity.sweep.run import CHIP_COLUMNS, RESULT_COLUMNS, column_kind, run_sweep, sweep_rows
from parity.sweep.spec import SweepSpec, spec_from_toml, variants_from_toml
from parity.sweep.variant import PRICED_BY, Variant, refuse_unread

__all__ = ["SweepSpec", "Variant", "spec_from_toml", "variants_from_toml", "refuse_unread", "sweep_rows", "run_sweep",
           "RESULT_COLUMNS", "PRICED_BY", "CHIP_COLUMNS", "column_kind"]
