"""Multi-die packages run one rank per die (per_die), and how messages name such a chip, system and rank's memory."""

from __future__ import annotations

import dataclasses

from parity.hardware.chips import Chip, System


def rank_holder(dies: int) -> str:
    """Whose memory one rank's is: a chip's, or a die's where each die of a multi-die chip is a rank (per_die)."""
    return "die" if dies > 1 else "chip"


def one_rank_per_die(system: System) -> bool:
    """Whether `system` is a catalog system run one rank per die (per_die): a rank is one die of a package."""
    return system.chip.ranks_per_package > 1


def system_text(system: System) -> str:
    """A system as messages name it: its catalog id, and 'cloudmatrix-384, one rank per die' for a system of one
    rank per die (per_die), whose own id ('cloudmatrix-384-per-die') no command knows."""
    return f"{system.id.removesuffix('-per-die')}, one rank per die" if one_rank_per_die(system) else system.id


def package_id(chip: Chip) -> str:
    """The catalog id of `chip`: that of its package where it is one die run as a rank (per_die: the
    'huawei-ascend-910c-die' of an Atlas 800 A3's ranks is 'huawei-ascend-910c')."""
    return chip.id.removesuffix("-die") if chip.ranks_per_package > 1 else chip.id



def chip_text(chip: Chip) -> str:
    """A chip as messages name it: its catalog id, and 'one die of huawei-ascend-910c' for one die of a multi-die
    package run as a rank (per_die), whose own id ('huawei-ascend-910c-die') no command knows."""
    return f"one die of {package_id(chip)}" if chip.ranks_per_package > 1 else chip.id


def rank_memory_text(system: System) -> str:
    """Whose memory a rank of `system` holds, in words: 'chip', or '64 GB die' on a system of one rank per die
    (per_die), where a reader would otherwise take the package's figure."""
    return f"{system.chip.memory_bytes / 1e9:,.0f} GB die" if one_rank_per_die(system) else "chip"


def per_die(system: System) -> System:
    """The system with each die of its multi-die packages as one rank (one device): a die gets
    1/dies of the package's compute, memory, bandwidth, links and power (the Ascend 910C's two
    910B-class dies each address their own HBM; frameworks see 16 devices on an 8-package node).
    A single-die chip's system is returned unchanged."""
    chip = system.chip
    n = chip.dies
    if n == 1:
        return system
    die = dataclasses.replace(
        chip, id=f"{chip.id}-die", name=f"{chip.name}, one of {n} dies",
        peak_flop_per_s={k: v / n for k, v in chip.peak_flop_per_s.items()}, memory_bytes=chip.memory_bytes / n,
        memory_bytes_per_s=chip.memory_bytes_per_s / n, scale_up_bytes_per_s=chip.scale_up_bytes_per_s / n,
        scale_out_bytes_per_s=chip.scale_out_bytes_per_s / n, tdp_w=chip.tdp_w / n,
        die_area_m2=None if chip.die_area_m2 is None else chip.die_area_m2 / n,
        unit_price_usd=None if chip.unit_price_usd is None else chip.unit_price_usd / n,
        compute_units=None if chip.compute_units is None else chip.compute_units / n,
        dies=1, ranks_per_package=n * chip.ranks_per_package, aliases=())
    return dataclasses.replace(system, id=f"{system.id}-per-die", name=f"{system.name}, one rank per die", chip=die,
                               chips=system.chips * n, scale_up_domain_chips=system.scale_up_domain_chips * n,
                               scale_up_bytes_per_s=system.scale_up_bytes_per_s / n,
                               scale_out_bytes_per_s=system.scale_out_bytes_per_s / n, aliases=())
