"""Fleet planning: how many chips, systems, megawatts and dollars a token demand needs on each chip
kind at a latency target, or what a production volume of chips can serve.

Each chip kind runs in a system (its default, the 8-chip node or the rack, or one named) in the best serving
configuration `search.search_serving` finds, with workers over up to four systems where they deliver 1.25x or more
per chip, as compare takes them (compare.serving_search). Demand counts prompt and output
tokens by default (as provider statistics do: DeepSeek reported 608 B input and 168 B output tokens a day); a
diurnal peak factor and spare capacity (a margin over the peak demand) are named inputs. A fleet serves in whole
deployment units (aggregated workers, or decode workers with whole prefill workers at the sized ratio); chips past
them serve nothing.

Modules: record (FleetPlan), prices (cost and power in words), limits (whole units and systems, chips given, a
power budget), sizing (the search per chip kind and plan_fleet).
"""

from parity.fleet.prices import basis_text, catalog_price_flag, power_text, price_basis, price_per_chip, spare_text
from parity.fleet.record import SECONDS_PER_DAY, FleetPlan
from parity.fleet.sizing import plan_fleet

__all__ = ["FleetPlan", "basis_text", "catalog_price_flag", "plan_fleet", "power_text", "price_basis", "price_per_chip",
           "spare_text", "SECONDS_PER_DAY"]
