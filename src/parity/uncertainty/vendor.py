"""Residual bands per chip vendor, of published serving and training figures: the bands ratio intervals take, widened
by a chip's own flags, and a training prediction's interval."""

from __future__ import annotations

from collections.abc import Sequence

from parity import catalog
from parity.flags import WIDEN_FLAGGED, Flag
from parity.hardware import Calibration, Chip
from parity.uncertainty.bands import CALIBRATION_WIDEN, Band, widening
from parity.uncertainty.chips import chip_flags

def ratio_band(band: Band, chip: Chip, cal: Calibration, training: bool = False) -> Band:
    """The vendor band a ratio interval takes for `chip`: its log-width times widening(chip_flags), the rule a
    prediction's interval widens by; the vendor's cross-source residuals (ratio_uncertainty.toml,
    training_ratio_uncertainty.toml) are of measured chips' published specs, and say nothing of a chip whose own
    rates or specs nothing published or measured. 1 on a fitted chip, 1.25 partly fitted, 2 inherited, 2.25 on a
    prior; 2 for a chip with any other of its flags (a what-if, not shipping, specs assumed, for a `training` ratio
    no published training run on its family), beside its calibration in quadrature: on a prior with specs assumed,
    sqrt(4 + 5.0625 - 1) = 2.8395."""
    factor = widening(chip_flags(chip, cal, training))
    return band if factor == 1.0 else band.widened(factor)


def vendor_bands(workload: str = "serve") -> dict[str, Band]:
    """Residual bands per chip vendor, from which ratio intervals are built: of published decode figures (serving,
    data/ratio_uncertainty.toml) or of published training runs' tokens/s per chip (`workload` 'train',
    data/training_ratio_uncertainty.toml), each scored with fits that never saw its source. The vendor of a chip of
    the user's own (PARITY_HOME/chips) that the table does not hold takes its widest band, as a vendor with few
    published rows does (crossvendor.vendor_bands), so that its ratios have an interval (ratio_band widens it)."""
    table = catalog.ratio_uncertainty_table() if workload == "serve" else catalog.training_ratio_uncertainty_table()
    bands = {str(b["vendor"]): Band(q_low=float(b["q_low"]), q_high=float(b["q_high"]), count=int(b["count"]))
             for b in table.get("band", [])}
    widest = max(bands.values(), key=lambda b: b.q_high - b.q_low, default=None)
    own = {c.vendor for c in catalog.chips() if c.user_file and c.vendor not in bands}
    return bands | ({vendor: widest for vendor in own} if widest else {})


def training_band(chip: Chip) -> Band | None:
    """The band of ln(predicted/measured) of a training prediction's tokens/s per chip on `chip`: its vendor's over
    published training runs, each scored with its source left out of every fit (vendor_bands('train')), widened as a
    training ratio's (ratio_band: by the chip's own flags, no published run trained on its family among them); None
    where the table holds no band for its vendor. `compare --workload train` builds its ratio
    intervals from it, `train` and `fleet --workload train` their own (training_interval)."""
    found = vendor_bands("train").get(chip.vendor)
    return found and ratio_band(found, chip, catalog.calibration(chip), training=True)


# where a training prediction's 80% interval comes from (training_interval), as captions and JSON say it
TRAINING_INTERVAL_BASIS = ("the 10th-90th percentiles of ln(predicted/measured) over published training runs' tokens/s "
                           "per chip, each run scored with its source left out of every fit: the chip vendor's, or, "
                           "where its vendor has too few runs, the widest vendor band; wider in log where the run is "
                           f"flagged ({WIDEN_FLAGGED:g}x: no published run trained on the chip's family, a layout none "
                           "was checked on, an architecture feature none of their models has) and by the chip's "
                           f"calibration ({CALIBRATION_WIDEN['partly']:g}x partly fitted, "
                           f"{CALIBRATION_WIDEN['inherited']:g}x inherited, {CALIBRATION_WIDEN['prior']:g}x on a "
                           "prior), the two in quadrature; the fast end no faster than the chip's peak of the math it "
                           "runs (MFU 100%)")


def training_interval(chip: Chip, value: float, raised: Sequence[Flag], inverse: bool = False, mfu: float = 0.0
                      ) -> tuple[float, float] | None:
    """80% interval (low, high) of a training prediction's `value` on `chip` from its vendor's training band (q_low,
    q_high; vendor_bands('train')), widened by the run's training flags `raised` as a serving prediction's flags widen
    its band (widening: a flag's 2 and the chip's calibration in quadrature): measured tokens/s per
    chip lie in [p e^-q_high, p e^-q_low] (Band.around), and so does whatever moves along with them (tokens/s, MFU);
    `inverse`: a quantity that moves inversely (step time, time to train, chip-hours), in [v e^q_low, v e^q_high].
    None where the chip's vendor has no band. Example: MetaX's band [-0.246328, 0.319276] doubled (flagged: no
    published run trained on the metax family; its calibration left aside): centre 0.036474, half-width 0.565604,
    so 183.4 tokens/s per chip ->
    183.4 e^-0.602078 = 100.4 to 183.4 e^0.529130 = 311.3, and 28.4 days -> 16.7 to 51.9. `mfu`: the prediction's
    MFU over the peak of the math it runs (0: not stated); the fast end goes no faster than that peak (MFU 1: the
    compute alone at 100%), a band's e^-q_low of 1.70 on a prediction at MFU 0.688 read MFU 1.17 and a step shorter
    than its compute at peak (report-only tester fuzzES 2)."""
    band = vendor_bands("train").get(chip.vendor)
    if band is None:
        return None
    low, high = band.around(1.0, widening(raised))
    if mfu > 0:
        high = min(high, max(1.0 / mfu, 1.0))
        low = min(low, high)
    return (value / high, value / low) if inverse else (value * low, value * high)
