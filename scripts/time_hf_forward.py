"""Time a Hugging Face transformers model's forward passes on one GPU: prefill (one prompt of S
tokens) and decode (one token per sequence for B sequences holding C tokens of KV cache), random bf16
weights built from a config.json. The output JSON is what `parity calibrate`'s check of whole forward
passes reads (`data/measurements/h200_hf_forward.json`).

    python scripts/time_hf_forward.py --config src/parity/data/models/meta-llama--Meta-Llama-3.1-8B_config.json \
        --out forward.json

Needs torch and transformers; runs on the CPU with --device cpu --layers 2 for a dry run.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--layers", type=int, default=None, help="override num_hidden_layers (dry runs)")
    parser.add_argument("--prefill", default="256,1024,2048,4096,8192", help="prompt lengths, batch 1")
    parser.add_argument("--decode", default="1x1024,8x1024,32x1024,64x1024,8x4096,32x4096",
                        help="BATCHxCONTEXT decode points")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()

    import torch  # noqa: PLC0415
    import transformers  # noqa: PLC0415

    with open(args.config, encoding="utf-8") as f:
        raw = json.load(f)
    if args.layers:
        raw["num_hidden_layers"] = args.layers
    config = transformers.AutoConfig.for_model(**raw)
    torch.manual_seed(0)
    torch.set_default_dtype(torch.bfloat16)
    with torch.device(args.device):
        model = transformers.AutoModelForCausalLM.from_config(config).eval()
    torch.set_default_dtype(torch.float32)
    cuda = args.device.startswith("cuda")

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    def timed(fn, repeats: int) -> float:
        fn()
        sync()
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            sync()
            samples.append(time.perf_counter() - start)
        return statistics.median(samples)

    vocab = config.vocab_size
    out: dict = {"prefill": [], "decode": []}
    with torch.inference_mode():
        for seq in (int(s) for s in args.prefill.split(",")):
            ids = torch.randint(0, vocab, (1, seq), device=args.device)
            s = timed(lambda ids=ids: model(input_ids=ids, use_cache=False, logits_to_keep=1), args.repeats)
            out["prefill"].append({"batch": 1, "seq": seq, "s": s})
            print(f"prefill {seq}: {s * 1e3:.2f} ms", flush=True)
        for point in args.decode.split(","):
            batch, ctx = (int(v) for v in point.split("x"))
            ids = torch.randint(0, vocab, (batch, ctx), device=args.device)
            cache = model(input_ids=ids, use_cache=True, logits_to_keep=1).past_key_values
            step = torch.randint(0, vocab, (batch, 1), device=args.device)
            samples = []
            for i in range(args.repeats + 1):
                sync()
                start = time.perf_counter()
                model(input_ids=step, past_key_values=cache, use_cache=True)
                sync()
                if i:
                    samples.append(time.perf_counter() - start)
            s = statistics.median(samples)
            out["decode"].append({"batch": batch, "ctx": ctx, "s": s})
            print(f"decode b{batch} ctx{ctx}: {s * 1e3:.2f} ms", flush=True)
            del cache
    name = torch.cuda.get_device_properties(0).name if cuda else platform.machine()
    out["meta"] = {"name": name, "torch": torch.__version__, "transformers": transformers.__version__,
                   "model": raw.get("_name_or_path") or args.config.rsplit("/", 1)[-1],
                   "layers": config.num_hidden_layers, "attention": getattr(config, "_attn_implementation", None),
                   "timing": f"median of {args.repeats} wall-clock passes after a warm-up, eager PyTorch, "
                             "random bf16 weights, logits of the last token only (prefill)"}
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
