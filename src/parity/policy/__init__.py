"""US export-control metrics of a chip (TPP, performance density, ECCN 3A090), the rules since
October 2022 as data, and the fastest variant of a chip that stays just under a rule's line.

Definitions and thresholds: 88 FR 73458 (FR Doc 2023-23055) unless a rule below cites another.
"""

from parity.policy.assessment import (LETTER_CAPTION, NEAR_LINE, PD_LINES, TPP_LINES, ZONE_NA, ZONE_SHOWN, Assessment,
                                      assess, near_lines, unshipped_notes, unstated_peaks_notes)
from parity.policy.metrics import (JAN2026_DRAM_BYTES_PER_S, PD_KEY, TF32_BITS, TppResult, Reading, eccn_3a090,
                                   jan2026_zone, license_exception_nac, paragraphs_3a090, performance_density,
                                   possible_3a090, tpp)
from parity.policy.rules import (LETTER_RULE, REVERSED_FOOTNOTE, REVERSED_MARK, RULES, VERDICTS, Rule, Verdict,
                                 licence_letter)
from parity.policy.threshold import THRESHOLD_RULES, Threshold, at_threshold, measured_within

__all__ = ["TppResult", "Reading", "Verdict", "Rule", "Assessment", "Threshold", "RULES", "VERDICTS", "THRESHOLD_RULES",
           "TF32_BITS", "REVERSED_MARK", "REVERSED_FOOTNOTE", "tpp", "performance_density", "PD_KEY", "eccn_3a090",
           "paragraphs_3a090", "possible_3a090", "license_exception_nac", "jan2026_zone", "ZONE_SHOWN", "ZONE_NA",
           "licence_letter", "LETTER_RULE", "LETTER_CAPTION", "NEAR_LINE", "near_lines", "unshipped_notes",
           "unstated_peaks_notes", "assess", "at_threshold", "measured_within", "TPP_LINES", "PD_LINES",
           "JAN2026_DRAM_BYTES_PER_S"]
