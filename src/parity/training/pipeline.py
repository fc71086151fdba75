"""Pipeline schedules: the time a pipeline of stages stays idle in one training step."""

from __future__ import annotations

import numpy as np

from parity.ops import Num

__all__ = ["pipeline_bubble_s"]


def pipeline_bubble_s(schedule: Num, p: Num, v: Num, stage_s: Num, backward_s: Num, weight_s: Num,
                      m: Num = np.inf) -> Num:
    """[s] a pipeline stays idle per step, from one microbatch's stage time (F + B with communication),
    its backward B and its weight-gradient part W, by schedule (index in PP_SCHEDULES), with m microbatches a step.

    1F1B: (p - 1)(F + B); interleaved over v chunks: (p - 1)(F + B) / v (Narayanan et al. 2021, Sec. 2.2.2);
    zero bubble ZB-H1: (p - 1)(F + B - 2W); DualPipe: (p/2 - 1)(F&B + B - 3W), F&B the overlapped forward
    and backward of two microbatches, taken as F + B (DeepSeek-V3 report, Table 2). Those hold for m >= p. With
    fewer microbatches than stages the pipeline never fills: one microbatch crosses the p stages' v chunks in turn,
    each stage idle while the others hold it, so the step lasts p (F + B) + (m - 1)(F + B) / v and the bubble is
    (p - m)(F + B) + (m - 1)(F + B) / v (1F1B's (p - 1)(F + B) at v = 1 or m = 1; interleaving no help with one
    microbatch); ZB-H1 and DualPipe are not run below p microbatches (TrainingLayout.check).
    """
    schedule = np.asarray(schedule)
    filled = np.minimum(m, p)
    one_f_one_b = (p - filled + (filled - 1.0) / np.where(schedule == 1, v, 1.0)) * stage_s
    zero_bubble = (p - 1.0) * np.maximum(stage_s - 2.0 * weight_s, 0.0)
    dualpipe = (p / 2.0 - 1.0) * np.maximum(stage_s + backward_s - 3.0 * weight_s, 0.0)
    return np.where(p > 1, np.select([schedule == 2, schedule == 3], [zero_bubble, dualpipe], one_f_one_b), 0.0)
