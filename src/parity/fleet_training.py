"""Training fleets: how many chips, systems, megawatts and dollars train a model on a number of tokens within a
deadline on each chip kind, or how long the whole systems a number of chips or a power budget gives take.

Each count of whole systems is priced in its fastest layout that fits (training.search.search_training, as `parity
train --chips N` picks it). Per-chip throughput falls with scale, so the count is searched, never scaled: whole
systems doubled until the deadline is met, then bisected between the last count that missed and the first that met,
then the counts below it of an odd number up to 15 times a power of two checked in ascending order (a count on which
no layout divides the model and the global batch, or none fits, misses, so bisection steps over counts with none).
A batch whose odd part has divisors above 15 trains at data-parallel degrees that need them: doubling starts from
each of them too, and they join the odd numbers checked.
Whole systems whose chips no layout divides (one supernode of 15,488, or two) train on the most of them one does
above the chips of one system fewer, the rest idle; where none does, that count has no layout.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from parity import catalog
from parity.compare import system_power_flags
from parity.cost import emulation, native_format
from parity.errors import InfeasiblePlan
from parity.flags import Flag, texts
from parity.fleet import SECONDS_PER_DAY, catalog_price_flag, power_text, price_per_chip
from parity.hardware import MOST_FLEET_CHIPS, System, rank_holder
from parity.model import Model
from parity.parallel import map_chunks
from parity.training.search import SYSTEM_MULTIPLES, search_dividing
from parity.training.step import TrainingResult
from parity.uncertainty import flag_note, training_flags, training_interval
from parity.units import places_text

__all__ = ["TrainingFleet", "plan_training_fleet"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingFleet:
    """One chip kind training `model` on `tokens` tokens: the chips and whole systems, and what they take.

    chips: the chips of the fleet, whole systems of them (0 where none trains: the row's note says why);
    training_chips: those the job trains on, all of them but where no layout divides the whole systems' chips (the
    note says so: the rest idle, counted in chip-hours, power and cost); tokens_per_s_per_chip: a training chip's;
    train_time_s: tokens / (tokens_per_s_per_chip x training_chips), inf where none trains; chip_hours: chips x that
    time; KEY_low and KEY_high: the 80% interval of tokens/s per chip and of train_time_s
    (uncertainty.training_interval; None where none trains or the chip's vendor has no band);
    power_w: the chips' share of their systems' power as the catalog states it (power_source, as the serving fleet
    counts it: a server's maximum or a rack's all-in figure, no facility overhead); energy_j: power_w x train_time_s;
    cost_usd: chips x their share of the price (price_source; None without one in the catalog).
    meets_deadline: None without a deadline (the note says where the deadline lies inside the time's interval).
    most_useful_chips: where more chips stop training faster (the global
    batch feeds no more data-parallel ranks, or no layout divides a larger count) before the deadline is met, the
    training chips of the fastest count found (binding 'batch'), or of the fewest within NEAR_FASTEST of the
    fastest where more chips gain less (binding 'scale'); None otherwise. binding: what set the chips: 'deadline',
    'units', 'power', 'batch', 'scale', 'fleet size' (MOST_FLEET_CHIPS) or 'no fit'.
    """

    chip: str
    system: str
    model: str
    precision: str
    seq_len: int  # tokens a sequence
    global_batch: int  # sequences a step
    tokens: float
    deadline_s: float | None
    chips: int
    training_chips: int
    systems: int
    layout: str
    tokens_per_s_per_chip: float | None
    tokens_per_s_per_chip_low: float | None = None
    tokens_per_s_per_chip_high: float | None = None
    mfu: float | None  # model FLOP/s per chip over the dense peak of `mfu_peak`, the math the format runs on
    mfu_peak: str = ""  # bf16, fp8 ...: FP8 where the chip has it, BF16 where it emulates FP8 (the 910C)
    mfu_bf16: float | None = None  # the same over the BF16 peak, whatever the format (one denominator for every chip)
    train_time_s: float
    train_time_s_low: float | None = None
    train_time_s_high: float | None = None
    chip_hours: float
    power_w: float
    energy_j: float
    cost_usd: float | None
    price_source: str
    power_source: str
    meets_deadline: bool | None
    most_useful_chips: int | None = None
    binding: str
    note: str = ""
    flags: tuple[Flag, ...] = ()
    assumptions: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, object]:
        return asdict(self) | {"flags": texts(self.flags)}


@dataclass(slots=True)
class _Pricer:
    """The fastest layout that fits on k whole systems (None where none divides or fits), each count priced once;
    `closest` keeps the nearest miss of a count where layouts were priced and none fit."""

    model: Model
    system: System
    seq_len: int
    global_batch: int
    precision: str
    seen: dict[int, TrainingResult | None] = field(default_factory=dict)
    closest: TrainingResult | None = None

    def __call__(self, k: int) -> TrainingResult | None:
        if k not in self.seen:
            # k systems whose chips no layout divides (a supernode of 15,488 = 2^7 x 11^2 chips, or two of 30,976)
            # train on the most of them one does above k - 1 systems' chips (the rest idle, counted); where none does,
            # the count has no layout (k - 1 systems train as well, with none idle)
            try:
                found = search_dividing(self.model, self.system, k * self.system.chips, self.seq_len,
                                        self.global_batch, catalog.calibration(self.system.chip),
                                        catalog.training_profile(), self.precision, top=1,
                                        above=(k - 1) * self.system.chips)[1]
            except InfeasiblePlan:
                found = None
            self.seen[k] = found.best[0] if found is not None and found.best else None
            if found is not None and not found.best and found.closest is not None:
                self.closest = found.closest
        return self.seen[k]


def _time_s(result: TrainingResult | None, tokens: float) -> float:
    """[s] to train `tokens` tokens in `result`, inf where nothing trains."""
    return math.inf if result is None else tokens / (float(result.tokens_per_s_per_chip) * result.chips)


def _batch_text(global_batch: int, seq_len: int) -> str:
    """'1,024-sequence (4.19M-token)' batches."""
    tokens = global_batch * seq_len
    return f"{global_batch:,}-sequence ({tokens / 1e6:.3g}M-token)" if tokens >= 1e6 else \
        f"{global_batch:,}-sequence ({tokens / 1e3:.3g}K-token)"


def _batch_odds(global_batch: int, cap: int) -> tuple[int, ...]:
    """The odd divisors above 15 of a global batch, up to `cap` systems: a batch with a large odd part trains at
    data-parallel degrees that need them (999 sequences at dp 27, 37 or 111: 1,080 H100s train it 4.5 times as fast
    as 1,024), which no count of 1, 3 ... 15 x 2^k systems gives, so doubling starts from each of them too."""
    odd = global_batch // (global_batch & -global_batch)
    return tuple(d for d in range(17, min(odd, cap) + 1, 2) if odd % d == 0)


def _ladder(start: int, cap: int) -> list[int]:
    """The counts doubling from `start` visits: start x 2^k below `cap`, then `cap`."""
    return [start << j for j in range(cap.bit_length()) if start << j < cap] + [cap]


def _count(price: _Pricer, tokens: float, deadline_s: float | None, cap: int, limit: str, start: int = 1
           ) -> tuple[int | None, str]:
    """(the whole systems, up to `cap`, and what set them): with a deadline [s], the fewest that meet it, found by
    doubling then bisecting; else (or where none up to `cap` meets it) the fastest count doubling reaches. Doubling
    starts at the first count on which a layout fits (`start` x 1, 2, 4 ... 128 systems, as `parity train` sizes a
    job) and leaps past the counts that miss the deadline even at that count's rate a chip (per-chip throughput
    falls with scale); the count below the one found is priced to check it misses, and the search falls back to
    every count where it does not. What set the count: 'deadline', `limit` (the cap), 'batch' (no layout on twice the systems,
    or none faster) or 'no fit' (None)."""
    miss, k, best, leaped = 0, start, None, False
    while True:
        k = min(k, cap)
        result = price(k)
        if deadline_s is not None and _time_s(result, tokens) <= deadline_s:
            k = _bisect(price, tokens, deadline_s, miss, k)
            if leaped and k > 1 and _time_s(price(k - 1), tokens) <= deadline_s:  # the rate rose with scale
                k = _bisect(price, tokens, deadline_s, 0, k - 1)
            return _fewest(price, tokens, deadline_s, k), "deadline"
        if best is None and result is None:
            if k < min(start * max(SYSTEM_MULTIPLES), cap):
                miss, k = k, 2 * k  # no layout fits yet: larger counts
                continue
            return None, "no fit"
        if result is not None and (best is None or _time_s(result, tokens) < _time_s(price(best), tokens)):
            miss, best = k, k
            if k >= cap:
                return best, limit
            k *= 2
            if deadline_s is not None:  # every count below the deadline's chips at this rate misses
                need = tokens / (deadline_s * float(result.tokens_per_s_per_chip) * price.system.chips)
                while 2 * k <= need and 2 * k <= cap:
                    miss, k, leaped = k, 2 * k, True
            continue
        if k != min(2 * best, cap):  # a leap went past where more chips stop helping: double from the best instead
            miss, k = best, 2 * best
            continue
        return best, limit if k == cap and k < 2 * best else "batch"


def _bisect(price: _Pricer, tokens: float, deadline_s: float, miss: int, meet: int) -> int:
    """The count between `miss` (a count that misses the deadline, or 0) and `meet` (one that meets it) where one
    system fewer misses."""
    while meet - miss > 1:
        mid = (miss + meet) // 2
        miss, meet = (miss, mid) if _time_s(price(mid), tokens) <= deadline_s else (mid, meet)
    return meet


def _fewest(price: _Pricer, tokens: float, deadline_s: float, found: int) -> int:
    """The fewest whole systems below `found` (a count that meets the deadline) that meet it too, among the counts of
    an odd number up to 15 or of the batch's large odd divisors (_batch_odds) times a power of two (a layout divides
    those where it divides few counts between them: bisection steps over counts with none) from the fewest that could
    at the fastest rate a chip priced so far (per-chip throughput falls with scale), in ascending order; `found` where
    none does."""
    rate = max(float(r.tokens_per_s_per_chip) for r in price.seen.values() if r is not None)
    lowest = tokens / (deadline_s * rate * price.system.chips)
    odds = (*range(1, 16, 2), *_batch_odds(price.global_batch, found))
    counts = sorted({m << j for m in odds for j in range(found.bit_length()) if lowest <= m << j < found})
    return next((k for k in counts if _time_s(price(k), tokens) <= deadline_s), found)


NEAR_FASTEST = 0.05  # more chips that gain less than this share of the fastest time found are not worth it


def _fastest_doubling(price: _Pricer, tokens: float, cap: int, start: int = 1) -> int:
    """The fewest of the counts the first one of `start`'s ladder with a layout doubles to, up to `cap`, whose time
    is within NEAR_FASTEST of the fastest of them; doubling stops where two doublings in turn train no faster
    (per-chip throughput falls with scale, so past there more chips only slow the step)."""
    k = next(c for c in _ladder(start, cap) if price(c) is not None)
    counts, best, worse = [k], k, 0
    while 2 * k <= cap and worse < 2:
        k *= 2
        counts.append(k)
        faster = _time_s(price(k), tokens) < _time_s(price(best), tokens)
        best, worse = (k, 0) if faster else (best, worse + 1)
    return min(c for c in counts if _time_s(price(c), tokens) <= (1.0 + NEAR_FASTEST) * _time_s(price(best), tokens))


def _fastest_below(price: _Pricer, tokens: float, cap: int, best: int) -> int:
    """Of `best` and the largest counts up to `cap` of an odd number up to 15 (as _fewest and the caption check them: 1,
    3, 5 and 7 alone missed 480 H100 systems, 15 x 32, under a 5 MW budget's 490) or of the batch's large odd divisors
    (_batch_odds) times a power of two (where a layout more likely divides them than at `cap` itself, or divides them
    into a faster one) above it, or below it where it is `cap` (the cap's own layout slower, or on part of its chips),
    the fastest."""
    counts = [m * 2 ** int(math.log2(cap / m)) for m in (*range(1, 16, 2), *_batch_odds(price.global_batch, cap))
              if m <= cap]
    return min([best, *(c for c in counts if (c > best or best == cap) and price(c) is not None)],
               key=lambda c: _time_s(price(c), tokens))


def _counted(price: _Pricer, tokens: float, deadline_s: float | None, cap: int, limit: str
             ) -> tuple[int | None, str]:
    """_count doubling from 1 and from each of the batch's large odd divisors (_batch_odds), each count past which
    more chips gain under NEAR_FASTEST taken back to that count: the fewest systems that meet the deadline, else the
    fewest within NEAR_FASTEST of the fastest found (with what set it)."""
    found = []
    for start in (1, *_batch_odds(price.global_batch, cap)):
        k, binding = _count(price, tokens, deadline_s, cap, limit, start)
        if k is not None and binding != "deadline":  # a leap to the cap may pass the counts that train fastest
            fastest = _fastest_doubling(price, tokens, cap, start)
            then_s, now_s = _time_s(price(fastest), tokens), _time_s(price(k), tokens)
            if fastest < k and then_s <= (1.0 + NEAR_FASTEST) * now_s:  # more chips no help, or little
                k, binding = fastest, "batch" if then_s <= now_s else "scale"
        found.append((k, binding))
    if met := [f for f in found if f[1] == "deadline"]:
        return min(met)
    if not (fits := [(k, binding) for k, binding in found if k is not None]):
        return found[0]
    fastest_s = min(_time_s(price(k), tokens) for k, _ in fits)
    return min(f for f in fits if _time_s(price(f[0]), tokens) <= (1.0 + NEAR_FASTEST) * fastest_s)


def _size(system: System, model: Model, tokens: float, deadline_s: float | None, units: int | None,
          power_budget_w: float | None, seq_len: int, global_batch: int, precision: str) -> TrainingFleet:
    """One chip kind's training fleet (the module docstring says how the count is searched), in the format asked or,
    where the chip has no unit for it, its native fallback (cost.native_format: the note says so)."""
    precision, swapped = native_format(precision, system.chip)
    row = _sized(system, model, tokens, deadline_s, units, power_budget_w, seq_len, global_batch, precision)
    return dataclasses.replace(row, note="; ".join(filter(None, [swapped, row.note]))) if swapped else row


def _sized(system: System, model: Model, tokens: float, deadline_s: float | None, units: int | None,
           power_budget_w: float | None, seq_len: int, global_batch: int, precision: str) -> TrainingFleet:
    per_system, price = system.chips, _Pricer(model, system, seq_len, global_batch, precision)
    caps = {"units": None if units is None else units // per_system,
            "power": None if power_budget_w is None else math.floor(power_budget_w / system.power_w)}
    caps = {k: v for k, v in caps.items() if v is not None}
    most = MOST_FLEET_CHIPS // per_system
    cap = min([*caps.values(), most])
    limit = min(caps, key=lambda k: caps[k]) if caps and min(caps.values()) <= most else "fleet size"
    limits: list[str] = []
    if "units" in caps:
        limits.append(f"{units:,} chip{'s' if units != 1 else ''} hold{'s' if units == 1 else ''} "
                      f"{caps['units']:,} whole {system.id}")
    if "power" in caps:
        limits.append(f"{power_budget_w / 1e6:,.3g} MW runs {caps['power']:,} {system.id}")
    if cap == 0:
        return _row(system, model, tokens, deadline_s, 0, None, precision, seq_len, "units" if caps.get("units") == 0
                    else "power", f"{' and '.join(limits)}: none trains", global_batch=global_batch)
    binding = limit
    given = price(cap) if deadline_s is None else None
    # the days the whole systems given take, where a layout divides all their chips, or fewer systems where they
    # train faster (a layout of the cap's chips may be a slow one: 17 CloudMatrix 384 at pp 51 take 55 days, 16 at
    # pp 3 and vp 3 take 39)
    whole = given is not None and given.chips == cap * per_system  # a layout divides all the chips given
    k_best = (_fastest_below(price, tokens, cap, cap) if cap > 1 else cap) if whole else None
    faster_below = whole and k_best != cap
    if k_best is None:  # a deadline, or no layout runs on all the chips given: the count searched (the cap one of
        # those counts, on the most of its chips a layout divides, where that trains fastest)
        k_best, binding = _counted(price, tokens, deadline_s, cap, limit)
        below = k_best != cap or given is not None  # given: the cap trains on part of its chips
        if binding not in ("batch", "scale", "deadline") and k_best is not None and below:
            k_best = _fastest_below(price, tokens, cap, k_best)
    chosen = price(k_best) if k_best is not None else None
    if chosen is None:
        closest, tried = price.closest, min(cap, max(SYSTEM_MULTIPLES))
        why = (f"does not fit on {tried:,} {system.id}: {float(closest.shortfall_bytes) / 1e9:.1f} GB more per "
               f"{rank_holder(system.chip.dies)} needed" if closest is not None
               else "no layout divides the model and the global batch")
        return _row(system, model, tokens, deadline_s, 0, None, precision, seq_len, "no fit", why,
                    global_batch=global_batch)
    days = f"{places_text(_time_s(chosen, tokens) / SECONDS_PER_DAY, 1)} days"
    useful = chosen.chips if binding in ("batch", "scale") else None  # those that train, not the idle beside them
    idle = (f"no layout divides the {k_best * per_system:,} chips of {'one' if k_best == 1 else f'{k_best:,}'} "
            f"{system.id}: trains on {chosen.chips:,} of them, the rest idle and counted"
            if chosen.chips < k_best * per_system else "")
    odd = global_batch // (global_batch & -global_batch)  # the batch's odd part: data-parallel degrees need it
    odds = [f"{d:,}" for d in _batch_odds(global_batch, cap)]
    odds = odds if len(odds) <= 6 else [*odds[:4], "...", odds[-1]]
    untried = (f"; the counts tried are 1, 3 ... 15{''.join(f', {d}' for d in odds)} x 2^k systems, and a "
               f"{global_batch:,}-sequence batch (odd part {odd:,}) may train faster on others (parity train --chips "
               "N)" if odd > 15 else "")
    if binding == "batch":
        why = (f"at {_batch_text(global_batch, seq_len)} batches "
               + (f"no count tried above {useful:,} chips trains faster ({days}){untried}" if untried else
                  f"at most {useful:,} chips help ({days})"
                  + ("; the deadline needs a larger --global-batch" if deadline_s is not None else "")))
    elif binding == "scale":
        why = (f"at {_batch_text(global_batch, seq_len)} batches more than {useful:,} chips gain under "
               f"{NEAR_FASTEST:.0%} ({days})"
               + ("; the deadline needs a larger --global-batch" if deadline_s is not None else ""))
    elif binding == "fleet size":
        why = f"at most {MOST_FLEET_CHIPS:,} chips in any fleet ({days})"
    elif binding in caps:
        why = (f"the {'chips available bind' if binding == 'units' else 'power budget binds'}, missing the deadline: "
               if deadline_s is not None else "") + "; ".join(limits) + f" ({days})"
    else:
        why = "; ".join([f"the deadline needs {k_best * per_system:,} chips", *limits]) if limits else ""
    if faster_below:  # the cap's own layout is slower than a count below it
        why = (f"{'; '.join(limits)}, but {k_best * per_system:,} chips train faster than all "
               f"{cap * per_system:,} ({days}, against {places_text(_time_s(price(cap), tokens) / SECONDS_PER_DAY, 1)})")
    elif binding != "deadline" and k_best != cap and binding not in ("batch", "scale"):  # the days are the count's
        why = why.replace(f" ({days})", "") + (f"; no layout divides all {cap * per_system:,} chips: trains on "
                                                f"{chosen.chips:,}, the fastest count found below ({days})")
    return _row(system, model, tokens, deadline_s, k_best * per_system, chosen, precision, seq_len, binding,
                "; ".join(filter(None, [idle, why])), useful, global_batch=global_batch)


def _row(system: System, model: Model, tokens: float, deadline_s: float | None, chips: int,
         result: TrainingResult | None, precision: str, seq_len: int, binding: str, why: str,
         useful: int | None = None, *, global_batch: int) -> TrainingFleet:
    """The record of `chips` chips of `system` training in `result` (None: none trains, its `why` in the note)."""
    price, price_source = price_per_chip(system)
    layouts = [result.layout] if result is not None and result.layout is not None else []
    trained = training_flags(system, model, seq_len, precision, layouts)  # the rate's: they widen its interval
    # a what-if at its catalog chip's price
    raised = trained + system_power_flags(system) + tuple(filter(None, [catalog_price_flag(system)]))
    time_s = _time_s(result, tokens)
    rate = None if result is None else float(result.tokens_per_s_per_chip)
    mfu = 0.0 if result is None else float(result.mfu)  # the fast end stops at the peak (MFU 1)
    rates = None if rate is None else training_interval(system.chip, rate, trained, mfu=mfu)
    times = None if rates is None else training_interval(system.chip, time_s, trained, inverse=True, mfu=mfu)
    power_w = chips * system.power_w / system.chips
    return TrainingFleet(
        chip=system.chip.id, system=system.id, model=model.name, precision=precision, seq_len=seq_len,
        global_batch=global_batch, tokens=tokens,
        deadline_s=deadline_s, chips=chips, training_chips=0 if result is None else result.chips,
        systems=chips // system.chips,
        layout=str(result.layout) if layouts else "-",
        tokens_per_s_per_chip=rate, tokens_per_s_per_chip_low=rates and rates[0],
        tokens_per_s_per_chip_high=rates and rates[1],
        mfu=None if result is None else float(result.mfu), mfu_peak="" if result is None else result.peak_math,
        mfu_bf16=None if result is None else float(result.mfu_bf16), train_time_s=time_s,
        train_time_s_low=times and times[0], train_time_s_high=times and times[1],
        chip_hours=chips * time_s / 3600.0 if chips else 0.0, power_w=power_w,
        energy_j=power_w * time_s if chips else 0.0, cost_usd=None if price is None else chips * price,
        price_source=price_source, power_source=power_text(system),
        meets_deadline=None if deadline_s is None else time_s <= deadline_s, most_useful_chips=useful,
        binding=binding,
        note="; ".join(filter(None, [why, _deadline_inside(deadline_s, times), *flag_note(raised),
                                     emulation(precision, system.chip)[1]])), flags=raised,
        assumptions=tuple(result.assumptions) if result is not None else ())


def _deadline_inside(deadline_s: float | None, times: tuple[float, float] | None) -> str:
    """Where the deadline [s] lies inside a row's 80% interval of the time to train [s]: whether it is met is then
    within the prediction's error, which meets_deadline alone does not say; '' elsewhere."""
    if deadline_s is None or times is None or not times[0] <= deadline_s <= times[1]:
        return ""
    low, high = (t / SECONDS_PER_DAY for t in times)
    return f"the deadline lies inside its 80% interval ({places_text(low, 1)}-{places_text(high, 1)} days)"


def plan_training_fleet(model: Model, systems: Sequence[System], tokens: float, deadline_s: float | None = None,
                        units: int | None = None, power_budget_w: float | None = None, seq_len: int = 4096,
                        global_batch: int = 1024, precision: str = "bf16", processes: int = 1
                        ) -> list[TrainingFleet]:
    """Each system's training fleet for `tokens` tokens: with a deadline [s], the fewest whole systems whose fastest
    layout trains them within it, capped by `units` chips and a power budget [W] (binding says which set the
    chips); without one, the time the whole systems of the limits given take. Searched on `processes` processes."""
    if deadline_s is None and units is None and power_budget_w is None:
        raise InfeasiblePlan("a training fleet needs a deadline, a number of chips (units) or a power budget")
    each = functools.partial(_size, model=model, tokens=tokens, deadline_s=deadline_s, units=units,
                             power_budget_w=power_budget_w, seq_len=seq_len, global_batch=global_batch,
                             precision=precision)
    return map_chunks(each, list(systems), processes)
