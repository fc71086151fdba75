"""What the commands that run a serving or a training workload (`compare`, `fleet`) share: the options that shape a
training run, and the refusal of an option the chosen workload would ignore."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import click

from parity.cli import typed_options
from parity.cli.values import COUNT, TOKENS, FormatChoice
from parity.errors import ParityError
from parity.training import PRECISIONS

__all__ = ["refuse_other_workloads_options", "training_run_options"]


def training_run_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--seq-len, --global-batch and --precision (as `training_precision`) of a command's training workload."""
    for option in reversed([
            click.option("--seq-len", type=TOKENS, default=4096, show_default=True,
                         help="training sequence length [tokens]"),
            click.option("--global-batch", type=COUNT, default=None,
                         help="training: sequences per step (default: 4M tokens' worth, as train's)"),
            click.option("--precision", "training_precision", type=FormatChoice(PRECISIONS), default="bf16",
                         show_default=True,
                         help="training: format of the GEMMs, as train's (fp8_block also as its alias ue8m0)")]):
        func = option(func)
    return func


def refuse_other_workloads_options(workload: str, serving_only: Mapping[str, str],
                                   training_only: Mapping[str, str]) -> None:
    """Refuse an option given on the command line that the chosen workload would silently ignore: `serving_only`
    and `training_only` map each option to its parameter."""
    given = typed_options(training_only if workload == "serve" else serving_only)
    if given:
        needs = "--workload train" if workload == "serve" else "--workload serve (the default)"
        raise ParityError(f"{', '.join(given)} only {'applies' if len(given) == 1 else 'apply'} with {needs}")
