"""Commands that describe models: `parity models` (the catalog's) and `parity model NAME|PATH` (parameters, KV
cache, FLOPs per token and the layer kinds of one)."""

from __future__ import annotations

from pathlib import Path

import click

from parity import catalog
from parity.cli import cli, emit, emit_record, format_option, out_option, output_format
from parity.cli.files import model_file, refuse_overwrite
from parity.cli.values import TOKENS
from parity.dtypes import FORMATS as NUMBER_FORMATS
from parity.flags import texts
from parity.model import LightningAttention, LinearAttention, Mamba, Model, MoeMlp
from parity.report.tables import Column, plain, scaled, words
from parity.uncertainty import context_flags


@cli.command()
@format_option
@out_option
def models(fmt: str, out: Path | None) -> None:
    """List the models in the catalog (Hugging Face configs: verbatim, or as a source trimmed them, which the flags
    column says: 'config trimmed: ...')."""
    rows = []
    for entry in catalog.models():
        m = catalog.model(entry.id)
        # the checkpoint's formats under `model`'s keys; the table joins them ('bf16/bf16') for people
        rows.append({"id": entry.id, "hf": entry.hf, "parameters": m.parameters,
                     "active_parameters": m.active_parameters,
                     "active_parameters_without_embeddings": m.active_parameters_without_embeddings,
                     "layers": m.num_layers, "features": feature_words(m),
                     "checkpoint_weights": m.weight_format, "checkpoint_expert_weights": m.expert_weight_format,
                     "flags": texts(m.flags), "priced_for": list(entry.priced_for),
                     "priced_for_basis": entry.priced_for_basis, "priced_for_source": entry.priced_for_source})
    columns = [Column("id", "model", plain, "left"), Column("hf", "Hugging Face", plain, "left", wide=True),
               Column("parameters", "params B", scaled(1e9)), Column("active_parameters", "active B", scaled(1e9)),
               Column("layers", "layers", plain), Column("features", "features", words, "left"),
               Column("checkpoint_text", "checkpoint dense/experts", plain, "left", wide=True),
               Column("flags", "flags", plain, "left", wide=True)]
    machine = output_format(fmt, out) in ("json", "csv")
    emit(rows if machine else [r | {"checkpoint_text": f"{r['checkpoint_weights']}/{r['checkpoint_expert_weights']}"}
                               for r in rows], columns, fmt, title="Models", out=out,
         caption=" ".join((_ACTIVE_WORDS + ".", *_priced_for_words())))


def _priced_for_words() -> list[str]:
    """'Also priced: llama-3.3-70b (meta-llama/Llama-3.3-70B-Instruct) as llama-3.1-70b: same architecture.' per
    entry that prices other models (ModelEntry.priced_for), which --model takes by those names."""
    return [f"Also priced: {e.priced_for[0]}" + (f" ({', '.join(e.priced_for[1:])})" if e.priced_for[1:] else "")
            + f" as {e.id}: {e.priced_for_basis} (the evidence: priced_for_source in --format json)."
            for e in catalog.models() if e.priced_for]


# what the active count includes, said wherever it is printed: model cards differ (gpt-oss-120b's 5.13 B leaves out
# the embedding; Qwen3-Next's 3 B both the embedding and the head)
_ACTIVE_WORDS = ("active B: the weights one token uses, embedding table and LM head included (JSON's "
                 "active_parameters_without_embeddings leaves both out)")


def feature_words(m: Model) -> list[str]:
    """What a model is built of, one rule for `model` and `models` (their text and JSON): 'dense' where it holds no
    routed experts, how its softmax attention shares K/V heads (GQA, MHA, MQA: Model.kv_sharing; not said of MLA,
    whose one latent all heads share), then the features the engine branches on (Model.features)."""
    sharing = [m.kv_sharing] if m.kv_sharing and "mla" not in m.features else []
    return [*([] if "moe" in m.features else ["dense"]), *sharing, *sorted(m.features)]


def layer_kind_rows(m: Model, context: float) -> list[dict[str, object]]:
    """One row per layer kind of a model: layers, parameters, FLOPs per token at `context`, KV bytes per token
    (bf16, averaged over the context for windowed layers) and fixed state bytes per sequence."""
    kinds: dict[str, dict[str, float]] = {}
    h = m.hidden_size
    for layer in m.layers:
        row = kinds.setdefault(layer.kind or "-", {"layers": 0, "parameters": 0, "flops_per_token": 0.0,
                                                   "kv_bytes_per_token": 0.0, "state_bytes_per_sequence": 0.0})
        mixer = layer.attention.score_flops_per_token(context) if layer.attention is not None else 0.0
        matmul = sum(2.0 * x.rows * x.cols * (layer.mlp.experts_per_token if x.expert and isinstance(layer.mlp, MoeMlp)
                                              else x.copies) for x in layer.matrices(h))
        row["layers"] += layer.count
        row["parameters"] += layer.count * layer.parameters(h)
        row["flops_per_token"] += layer.count * (matmul + float(mixer))
        row["kv_bytes_per_token"] += layer.count * layer.kv_bytes_per_token(NUMBER_FORMATS["bf16"], context)
        row["state_bytes_per_sequence"] += layer.count * layer.state_bytes_per_sequence()
    return [{"kind": kind, **row} for kind, row in kinds.items()]


def bytes_formats_text(m: Model) -> str:
    """What the layer-kind table's bytes are in: the KV cache in bf16, the recurrent state in its own format where it
    is another ('KV in bf16, state in fp32, its conv window in 16-bit': the window is 16-bit whatever the state's
    format, LinearAttention.state_bytes_per_sequence); 'KV and state in bf16' where they share it."""
    recurrent = [layer.attention for layer in m.layers
                 if isinstance(layer.attention, (LinearAttention, LightningAttention, Mamba))]
    formats = sorted({mixer.state_format for mixer in recurrent})  # config.json's mamba_ssm_dtype (Qwen3.5: fp32)
    if formats in ([], ["bf16"]):
        return "KV and state in bf16"
    conv = any(isinstance(mixer, (LinearAttention, Mamba)) for mixer in recurrent)
    return f"KV in bf16, state in {' and '.join(formats)}" + (", its conv window in 16-bit" if conv else "")


@cli.command()
@click.argument("name")
@click.option("--context", default=4096, show_default=True, type=TOKENS,
              help="context length [tokens] for attention FLOPs and sliding-window KV")
@format_option
@out_option
def model(name: str, context: int, fmt: str, out: Path | None) -> None:
    """Parameters, KV-cache bytes per token and FLOPs per token of a model (catalog name or config.json)."""
    refuse_overwrite([("NAME", model_file(name))], [("--out", out)])
    m = catalog.model(name)
    raised = [*m.flags, *context_flags(m, context)]  # --context past the window, as serve flags a request past it
    kv = {f: m.kv_cache_bytes_per_token(NUMBER_FORMATS[f], float(context)) for f in ("bf16", "fp8", "int8", "nvfp4")}
    payload = {"name": m.name, "architecture": m.architecture, "features": feature_words(m),
               "parameters": m.parameters, "active_parameters": m.active_parameters,
               "active_parameters_without_embeddings": m.active_parameters_without_embeddings,
               "mtp_parameters": m.mtp_parameters, "expert_parameters": m.expert_parameters,
               "layers": m.num_layers, "hidden_size": m.hidden_size, "vocab_size": m.vocab_size,
               "context_window_tokens": m.context_window, "context_window_basis": m.context_window_basis,
               "checkpoint_weights": m.weight_format, "checkpoint_expert_weights": m.expert_weight_format,
               "unquantized_matrices": sorted(m.unquantized_matrices),
               "unquantized_parameters": m.unquantized_parameters,
               "context_tokens": context, "kv_cache_bytes_per_token": kv,
               "flops_per_token": m.flops_per_token(float(context)),
               "matmul_flops_per_token": m.matmul_flops_per_token()}
    rows = [{"quantity": "parameters (main model)", "value": f"{m.parameters:,}"},
            {"quantity": "active parameters per token (embedding and head included)",
             "value": f"{m.active_parameters:,}"},
            {"quantity": "active parameters less embedding and head",
             "value": f"{m.active_parameters_without_embeddings:,}"},
            {"quantity": "MTP module parameters (apart)", "value": f"{m.mtp_parameters:,}"},
            {"quantity": "layers", "value": str(m.num_layers)},
            {"quantity": f"context window [tokens] ({m.context_window_basis})",
             "value": f"{m.context_window:,}" if m.context_window else "not stated"},
            {"quantity": "features", "value": ", ".join(feature_words(m))},
            {"quantity": "checkpoint formats (dense / experts)", "value": f"{m.weight_format} / {m.expert_weight_format}"},
            {"quantity": "left in bf16 (skip list)", "value": f"{', '.join(sorted(m.unquantized_matrices))} "
             f"({m.unquantized_parameters / 1e9:.3g} B params)" if m.unquantized_matrices else "none"}]
    # a sliding window's KV is averaged over the context, so the rows name it, as the FLOPs row does
    rows += [{"quantity": f"KV cache per token at context {context}, {f} [kB]", "value": f"{v / 1e3:,.1f}"}
             for f, v in kv.items()]
    rows += [{"quantity": f"FLOPs per token at context {context} [GFLOP]",
              "value": f"{m.flops_per_token(float(context)) / 1e9:,.2f}"},
             {"quantity": "of which weight matmuls [GFLOP]", "value": f"{m.matmul_flops_per_token() / 1e9:,.2f}"}]
    rows += [{"quantity": "vision tower parameters (apart, estimated)", "value": f"{m.vision_parameters:,}"},
             {"quantity": "fixed state per sequence [MB]", "value": f"{m.state_bytes_per_sequence / 1e6:,.2f}"},
             # listed under the table: a right-aligned value column folds a flag's sentence to a word a line
             {"quantity": "flags", "value": f"{len(raised)}, listed below" if raised else "none"}]
    kinds = layer_kind_rows(m, float(context))
    payload |= {"vision_parameters": m.vision_parameters, "state_bytes_per_sequence": m.state_bytes_per_sequence,
                "flags": texts(raised), "layer_kinds": kinds}
    # a kind ("attention chunked 8192 + moe") wraps at its spaces, so the six columns fit 80; under the record in
    # every text (the terminal, Markdown, a .txt or .md file), as JSON and CSV carry it in layer_kinds
    kind_columns = [Column("kind", "layer kind", plain, "left", wrap=True), Column("layers", "layers", plain),
                    Column("parameters", "params B", scaled(1e9)),
                    Column("flops_per_token", "GFLOP/token", scaled(1e9)),
                    Column("kv_bytes_per_token", "KV B/token", lambda v: f"{v:,.0f}"),
                    Column("state_bytes_per_sequence", "state MB/seq", scaled(1e6))]
    emit_record(rows, fmt, title=m.name, payload=payload, out=out, listed=texts(raised),
                tables=[(kinds, kind_columns, f"{m.name}: layer kinds at context {context} ({bytes_formats_text(m)})")])
