"""Frozen descriptions of chips and systems, with the provenance of every number (no I/O here).

Rates are dense peaks in SI units; links are per chip and per direction. What-ifs are
`dataclasses.replace(chip, memory_bytes_per_s=2 * chip.memory_bytes_per_s)`, or `what_if(...)`,
which also records the change in the provenance.
"""

from parity.hardware.calibration import KERNEL_OVERHEAD_MAX_S, MEASURABLE_FIELDS, Calibration
from parity.hardware.chips import (ARCHITECTURES, MOST_FLEET_CHIPS, SPEC_FIELDS, STATUSES, TOPOLOGIES, Chip, Family,
                                   System, figure_distance)
from parity.hardware.dies import (chip_text, one_rank_per_die, package_id, per_die, rank_holder, rank_memory_text,
                                  system_text)
from parity.hardware.sources import CLAIM_MEASURES, SOURCE_KINDS, Claim, ClaimFigure, Provenance, Source
from parity.hardware.variants import field_dimension, is_what_if, what_if

__all__ = ["ARCHITECTURES", "SOURCE_KINDS", "SPEC_FIELDS", "STATUSES", "TOPOLOGIES", "Source", "Provenance", "Chip",
           "System",
           "Calibration", "per_die", "rank_holder", "one_rank_per_die", "system_text", "chip_text", "package_id",
           "rank_memory_text", "figure_distance", "field_dimension",
           "Family", "what_if", "is_what_if", "MOST_FLEET_CHIPS", "Claim", "ClaimFigure", "CLAIM_MEASURES",
           "KERNEL_OVERHEAD_MAX_S", "MEASURABLE_FIELDS"]
