"""Step-time tables: one deployment's step time tabulated once over (decode batch, mean context,
prefill tokens) with the vectorised step model, then read by interpolation, so that a simulated
engine step costs about one table lookup instead of a pass over the model's kernels."""

from __future__ import annotations

import dataclasses
import math
from bisect import bisect_right
from dataclasses import dataclass, field

import numpy as np

from parity.ops import Batch, Num
from parity.step import Deployment, decode_host_floor, decode_host_floor_note, drafter_deployment, step_cost

__all__ = ["StepTable", "step_table"]

# Tables (and the two figures of a deployment that tables at other grids share) kept per process: rows that
# differ only in clients, or share a deployment and lengths, tabulate once. Keyed by the deployment's repr
# (every field that prices a step; floats written exactly); past `most` entries the oldest goes first
# (256 tables of up to ~4,000 floats each; the figures are one float each).
_tables: dict[tuple, "StepTable"] = {}
_figures: dict[tuple, float] = {}


def _remember(cache: dict, key: tuple, value, most: int = 256):
    if len(cache) >= most:
        del cache[next(iter(cache))]
    cache[key] = value
    return value


def _axis(most: float, points: int, first: float = 0.0) -> tuple[float, ...]:
    """0 (or `first`), then points geometrically spaced up to `most`, whole numbers, ascending."""
    values = {float(first)} | {float(v) for v in np.round(np.geomspace(1.0, max(most, 1.0), points))}
    return tuple(sorted(values))


def _cell(axis: tuple[float, ...], x: float) -> tuple[int, float]:
    """(lower index, weight of the upper point) of x on an ascending axis; clamped at both ends
    except that the last cell extrapolates linearly (a batch beyond the grid grows its time)."""
    i = bisect_right(axis, x) - 1
    if i < 0:
        return 0, 0.0
    if i >= len(axis) - 1:
        i = len(axis) - 2
    lo, hi = axis[i], axis[i + 1]
    return i, (x - lo) / (hi - lo)


def _rank_axis(ranks: int) -> tuple[float, ...]:
    """The decode-carrying rank counts a table is priced at: 1, 2, 4, ... below `ranks`, and `ranks` (1, 2, 4, 8 on
    8 ranks; 1 alone without attention DP)."""
    return tuple(float(v) for v in sorted({2 ** k for k in range(max(ranks, 1).bit_length()) if 2 ** k < ranks}
                                          | {max(ranks, 1)}))


def _rank_weights(axis: tuple[float, ...], carrying: float) -> tuple[tuple[int, float], ...]:
    """(index, weight) of the one or two points of `axis` that interpolate `carrying`, clamped to the axis."""
    if len(axis) == 1 or carrying >= axis[-1]:
        return ((len(axis) - 1, 1.0),)
    if carrying <= axis[0]:
        return ((0, 1.0),)
    i = bisect_right(axis, carrying) - 1
    w = (carrying - axis[i]) / (axis[i + 1] - axis[i])
    return ((i, 1.0 - w), (i + 1, w)) if w else ((i, 1.0),)


def _weighted_sum(t, cases: tuple[tuple[int, float], ...], batch: int, contexts: int) -> tuple[float, ...]:
    """Decode-only times of batch index `batch` by context, over the rank cases t[e] weighted (e, w): what
    sum(w * t[e][batch][c][0] for e, w in cases) gives for each context c, added in the same order from the same
    int 0, one list a case instead of a generator a context."""
    sums: list = [0] * contexts
    for e, w in cases:
        plane = t[e][batch]
        sums = [acc + w * plane[c][0] for c, acc in enumerate(sums)]
    return tuple(sums)


@dataclass(frozen=True, slots=True)
class StepTable:
    """Step time [s] of one deployment on a grid, per attention-DP rank.

    batches: decode sequences of the busiest rank; contexts: their mean context [tokens]; prefills:
    prompt tokens of the busiest rank in the step (chunks without cached context). times[r][e][b][c][p]:
    r = 0 where one rank carries the prompt tokens, r = 1 where every rank does (the experts see the
    tokens of the ranks that carry them; equal where attention DP is 1); e indexes decode_ranks, the ranks that
    carry as many decode sequences as the busiest (the experts see the busiest's decode tokens x those ranks).
    A step whose ranks decode `decoding` sequences in all, `decode` on the busiest, is read at decoding / decode
    carrying ranks, linearly between the axis' points (1, 2, 4, 8 on 8 ranks), exact at them: DeepSeek-R1 on 8 H200s
    at attention DP 8, EP 8 (SGLang), against the step model itself, the table reads up to 0.2% low at 1 sequence a
    rank and up to 2.0% low at 9 (6 of 8 ranks carrying; 3, 5 and 7 ranks less), since the experts' distinct weights
    read, 256 x (1 - (1 - 1/256)^picks), bend between the points (tests/test_sim_decode_ranks.py).
    chunk_context_s_per_token
    [s/token^2]: what each cached-context token adds per prompt token of a chunk (the attention of a
    later chunk over earlier ones), taken from the step at the largest prefill. tokens_per_step:
    output tokens a decoding sequence gains per step on average (1 + MTP acceptance). notes: what the table
    holds beyond the step model, in words, for a prediction's assumptions (the host floor on attention-DP decode
    steps). batch_cells: _cell of each batch looked up so far (a step's batch is a whole number of sequences: few
    values, asked again and again); decode_rows: by (busiest rank's sequences, all ranks' sequences), the upper
    batch's weight and the decode-only times of the cell's two batches over the contexts, the carrying ranks
    interpolated already.
    """

    batches: tuple[float, ...]
    contexts: tuple[float, ...]
    prefills: tuple[float, ...]
    times: tuple[tuple[tuple[tuple[tuple[float, ...], ...], ...], ...], ...]
    chunk_context_s_per_token: float
    ranks: int
    tokens_per_step: float
    decode_ranks: tuple[float, ...] = (1.0,)
    notes: tuple[str, ...] = ()
    batch_cells: dict[float, tuple[int, float]] = field(default_factory=dict, init=False, repr=False, compare=False)
    decode_rows: dict[tuple[float, float | None], tuple[float, tuple[float, ...], tuple[float, ...]]] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    def _batch_cell(self, decode: float) -> tuple[int, float]:
        if (cell := self.batch_cells.get(decode)) is None:
            cell = self.batch_cells[decode] = _cell(self.batches, decode)
        return cell

    def _carrying(self, decode: float, decoding: float | None) -> tuple[tuple[int, float], ...]:
        """_rank_weights of the ranks carrying decodes: decoding / decode, every rank where decoding is None."""
        axis = self.decode_ranks
        if decoding is None or decode <= 0.0 or len(axis) == 1:
            return ((len(axis) - 1, 1.0),)
        return _rank_weights(axis, decoding / decode)

    def _decode_row(self, decode: float, decoding: float | None) -> tuple[float, tuple[float, ...], tuple[float, ...]]:
        """(weight of the upper batch, decode-only times of the lower and of the upper batch by context)."""
        ib, wb = self._batch_cell(decode)
        cases = self._carrying(decode, decoding)
        t = self.times[0]
        lower, upper = (_weighted_sum(t, cases, i, len(self.contexts)) for i in (ib, ib + 1))
        row = self.decode_rows[(decode, decoding)] = (wb, lower, upper)
        return row

    def time_s(self, decode: float, context: float, prefill: float = 0.0, prefill_context: float = 0.0,
               prefill_ranks: float = 1.0, decoding: float | None = None) -> float:
        """Step time [s] of `decode` sequences (the busiest rank's; `decoding` over all ranks, None: `decode` on
        every rank) at mean `context` plus `prefill` prompt tokens whose earlier `prefill_context` tokens are
        cached, on `prefill_ranks` of the ranks (multilinear)."""
        if prefill == 0.0 and prefill_ranks == 1.0 and self.prefills[0] == 0.0:
            return self.decode_time_s(decode, context, decoding)
        ib, wb = self.batch_cells.get(decode) or self._batch_cell(decode)
        ic, wc = _cell(self.contexts, context)
        ip, wp = _cell(self.prefills, prefill)
        cases = self._carrying(decode, decoding)
        out = 0.0
        for r, wr in ((0, 1.0), (1, 0.0)) if self.ranks == 1 else (
                (0, (self.ranks - prefill_ranks) / (self.ranks - 1)), (1, (prefill_ranks - 1) / (self.ranks - 1))):
            if wr == 0.0:
                continue
            for e, we in cases:
                t = self.times[r][e]
                b0, b1 = t[ib], t[ib + 1]
                v = 0.0
                for bb, w1 in ((b0, 1.0 - wb), (b1, wb)):
                    c0, c1 = bb[ic], bb[ic + 1]
                    lo = c0[ip] + wp * (c0[ip + 1] - c0[ip])
                    hi = c1[ip] + wp * (c1[ip + 1] - c1[ip])
                    v += w1 * (lo + wc * (hi - lo))
                out += wr * we * v
        return out + self.chunk_context_s_per_token * prefill * prefill_context

    @classmethod
    def of(cls, time_s, batches: tuple[float, ...], contexts: tuple[float, ...], prefills: tuple[float, ...],
           tokens_per_step: float = 1.0) -> StepTable:
        """A one-rank table from a function time_s(decode, context, prefill) [s] (what-ifs and tests)."""
        t = tuple(tuple(tuple(float(time_s(b, c, p)) for p in prefills) for c in contexts) for b in batches)
        return cls(batches=tuple(batches), contexts=tuple(contexts), prefills=tuple(prefills), times=((t,),),
                   chunk_context_s_per_token=0.0, ranks=1, tokens_per_step=tokens_per_step)

    def decode_time_s(self, decode: float, context: float, decoding: float | None = None) -> float:
        """One decode-only step [s]: time_s(decode, context, decoding=decoding), i.e. its sums with weight 0 on the
        upper prefill point and all on rank case 0."""
        if self.prefills[0] != 0.0:
            return self.time_s(decode, context, decoding=decoding)
        wb, b0, b1 = self.decode_rows.get((decode, decoding)) or self._decode_row(decode, decoding)
        contexts = self.contexts  # _cell(self.contexts, context), written out: the simulator's most frequent call
        ic = bisect_right(contexts, context) - 1
        if ic < 0:
            ic, wc = 0, 0.0
        else:
            if ic >= len(contexts) - 1:
                ic = len(contexts) - 2
            wc = (context - contexts[ic]) / (contexts[ic + 1] - contexts[ic])
        lo, hi = b0[ic], b0[ic + 1]
        lo1, hi1 = b1[ic], b1[ic + 1]
        return (1.0 - wb) * (lo + wc * (hi - lo)) + wb * (lo1 + wc * (hi1 - lo1))


def prefill_launches(dep: Deployment, prefill_tokens: float) -> float:
    """Kernel launches of one step that prefills `prefill_tokens` (one sequence) on a deployment: the
    step model's fixed per-kernel cost is linear in kernel_overhead_s, so the difference of the step
    priced at 1 s and at 0 s per kernel counts them."""
    batch = Batch(prefill_tokens=prefill_tokens, prefill_sequences=1.0)
    once = float(np.asarray(step_cost(dataclasses.replace(dep, kernel_overhead_s=1.0), batch).time_s))
    none = float(np.asarray(step_cost(dataclasses.replace(dep, kernel_overhead_s=0.0), batch).time_s))
    return max(once - none, 0.0)


def host_bound_s(device_s: Num, launches: float, host_launch_s: float) -> Num:
    """An eager step's time [s]: its host issues `launches` kernels one after another, host_launch_s [s]
    each (Python and launch work per op), while the device runs them as they come, so the step lasts the
    longer of the device's time device_s [s] and the host's (the device idles between short kernels of a
    host-bound step). 600 launches at 50 us: a 20 ms step takes 30 ms, a 50 ms step stays 50 ms."""
    return np.maximum(device_s, launches * host_launch_s)


def step_table(dep: Deployment, most_batch: float, most_context: float, most_prefill: float,
               prefill_scale: float = 1.0, prefill_launch_s: float = 0.0, prompt_tokens: float = math.inf,
               host_launch_s: float = 0.0, host_ops: float | None = None,
               decode_host_token_s: float = 0.0) -> StepTable:
    """Tabulate a deployment's step time once, vectorised (one call of the step model per rank case: one or every
    rank carrying prompt tokens, by each of _rank_axis' counts of ranks carrying decodes).

    The grid: decode batch 0 and 14 geometric points up to `most_batch`, context 8 points up to
    `most_context`, prefill tokens 0 and 12 points up to `most_prefill`. The prompt part of a step is
    scaled by the engine's prefill_scale (what the step model's prefill misses, fitted on calibration
    rows): time = decode-only step + prefill_scale x (mixed step - decode-only step). With MTP, a
    decode verifies 1 + mtp_tokens tokens and the drafter runs mtp_tokens times (parity.step.decode_step).
    A step with prompt tokens runs eagerly while decode-only steps replay CUDA graphs: it adds
    prefill_launch_s [s] for each of its kernel launches (prefill_launches), and it lasts at least as long
    as its host takes to issue them at host_launch_s [s] each (host_bound_s), or to issue `host_ops` ops where
    the engine's count from its source is given (simulate.host_ops.prompt_step_ops). A rank's prompt tokens up to
    `prompt_tokens` [tokens] (the nominal prompt length) are one sequence; more are whole prompts of that length
    side by side (p / prompt_tokens sequences), whose attention pairs add per prompt instead of growing with the
    square of the step's tokens (two 8,192-token prompts: 2 x 8,192^2 / 2 pairs, not 16,384^2 / 2). A worker with
    attention DP has its steps last at least decode_host_token_s [s] x its rank's decode tokens (sequences x
    (1 + mtp_tokens)): the host work per request the engine's overlap scheduler cannot hide once it outgrows the
    device step (EngineProfile.decode_host_token_s; the steady-state model's step.decode_host_floor alike).
    """
    key = (repr(dep), most_batch, most_context, most_prefill, prefill_scale, prefill_launch_s, prompt_tokens,
           host_launch_s, host_ops, decode_host_token_s)
    if (known := _tables.get(key)) is not None:
        return known
    batches = _axis(most_batch, 14)
    contexts = _axis(most_context, 8, first=1.0)
    prefills = _axis(most_prefill, 12)
    b, c, p = np.meshgrid(np.array(batches), np.array(contexts), np.array(prefills), indexing="ij")
    width = 1.0 + dep.mtp_tokens
    drafter = drafter_deployment(dep) if dep.mtp_tokens else None
    ranks = int(dep.layout.attn_dp)
    # what does not depend on the rank case, priced once
    launches = ("launches", key[0], float(prefills[-1]))
    if (prefill_launch_s or (host_launch_s and host_ops is None)) and launches not in _figures:
        _remember(_figures, launches, prefill_launches(dep, float(prefills[-1])), 8192)
    launch_s = prefill_launch_s * _figures[launches] if prefill_launch_s else 0.0
    # an engine that pads every rank's decodes to the busiest's (Deployment.decode_padded) prices every count of
    # carrying ranks as all of them: one case, not the axis' identical ones
    decode_ranks = (float(max(ranks, 1)),) if dep.decode_padded else _rank_axis(ranks)
    drafts = {decoding: dep.mtp_tokens * np.where(b > 0, np.asarray(step_cost(drafter, Batch(
        decode_tokens=np.maximum(b, 1.0), decode_context=c, decode_ranks=None if ranks == 1 else decoding)).time_s,
        float), 0.0) for decoding in decode_ranks} if drafter is not None else {}
    tables = []
    for carrying in ((1.0,) if ranks == 1 else (1.0, float(ranks))):
        by_decode_ranks = []
        for decoding in decode_ranks:
            spread = None if ranks == 1 else decoding
            full = np.asarray(step_cost(dep, Batch(
                decode_tokens=b, decode_context=c, decode_width=width, prefill_tokens=p,
                prefill_sequences=np.maximum(np.minimum(p, 1.0), p / prompt_tokens),
                prefill_ranks=None if ranks == 1 else carrying, decode_ranks=spread)).time_s, float)
            full = np.broadcast_to(full, b.shape)
            alone = full[:, :, :1]  # decode only
            t = alone + prefill_scale * (full - alone)
            if prefill_launch_s:
                t = t + np.where(p > 0, launch_s, 0.0)
            if drafts:
                t = t + drafts[decoding]
            if host_launch_s:
                issued = _figures[launches] if host_ops is None else host_ops
                t = np.where(p > 0, host_bound_s(t, issued, host_launch_s), t)
            t = decode_host_floor(dep, t, b, decode_host_token_s)
            by_decode_ranks.append(tuple(tuple(tuple(row) for row in plane) for plane in t.tolist()))  # Python floats
        tables.append(tuple(by_decode_ranks))
    # attention of a chunk over its cached context: the slope of step time in prefill_context at the largest chunk
    big = float(prefills[-1])
    ctx = np.array([0.0, max(most_context, 1.0)])
    rise = ("rise", key[0], big, float(ctx[1]))
    if rise not in _figures:
        # broadcast: a model whose steps never read the context (a pure Mamba-2 stack) prices one scalar
        base = np.broadcast_to(np.asarray(step_cost(dep, Batch(prefill_tokens=big, prefill_sequences=1.0,
                                                               prefill_context=ctx)).time_s, float), ctx.shape)
        _remember(_figures, rise, float(base[1] - base[0]), 8192)
    slope = prefill_scale * _figures[rise] / (big * ctx[1]) if big > 0 else 0.0
    return _remember(_tables, key, StepTable(batches=batches, contexts=contexts, prefills=prefills, times=tuple(tables),
                                             chunk_context_s_per_token=max(slope, 0.0), ranks=ranks,
                                             decode_ranks=decode_ranks,
                                             tokens_per_step=1.0 + dep.mtp_acceptance,
                                             notes=decode_host_floor_note(decode_host_token_s, ranks, dep.mtp_tokens)))
