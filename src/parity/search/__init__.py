"""Layout search for serving: every parallel layout, concurrency and serving mode of a model on a system, priced as
numpy arrays in one pass, with the throughput/interactivity Pareto frontier and the best configuration under latency
targets (search_serving, in frontier; the records in records, what is searched in space, each mode in its module)."""

from parity.search.frontier import check_records, mtp_assumption, search_serving, search_spanning
from parity.search.pairs import MAX_DECODE_WORKERS, OVER_PROVISION, whole_workers
from parity.search.rates import decode_rates, prefill_rates
from parity.search.records import Candidate, SearchResult
from parity.search.space import (DEFAULT_CONCURRENCY, MAX_WORKER_CHIPS, best_precision, grid_of_sizes, layout_grid,
                                 worker_sizes)

__all__ = ["Candidate", "SearchResult", "layout_grid", "search_serving", "search_spanning", "best_precision",
           "decode_rates", "prefill_rates", "worker_sizes", "grid_of_sizes",
           "DEFAULT_CONCURRENCY", "check_records", "mtp_assumption", "whole_workers", "MAX_DECODE_WORKERS",
           "OVER_PROVISION", "MAX_WORKER_CHIPS"]
