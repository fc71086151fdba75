"""Time causal bf16 prompt attention by head dimension through PyTorch SDPA, once per backend (PyTorch's
FlashAttention-2 build and cuDNN), on one GPU: TFLOP/s counting the causal half. Wrote
data/measurements/h200_sdpa_head_dim.json (its meta block added by hand) on an H200, 2026-12-04:

    python scripts/time_sdpa_head_dim.py out.json

Needs torch and a CUDA GPU.
"""

from __future__ import annotations

import argparse
import json

HEAD_DIMS = (64, 128, 192, 256)
SEQUENCES = (4096, 8192)
WIDTH = 4096  # heads x head dim: 64 heads at head dim 64, 32 heads above (q = k = v heads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--warmups", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()

    import torch  # noqa: PLC0415 - optional dependency
    from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: PLC0415

    attention = torch.nn.functional.scaled_dot_product_attention
    runs = []
    for backend in (SDPBackend.FLASH_ATTENTION, SDPBackend.CUDNN_ATTENTION):
        for head_dim in HEAD_DIMS:
            for seq in SEQUENCES:
                heads = WIDTH // 64 if head_dim == 64 else 32
                q = torch.randn(1, heads, seq, head_dim, device="cuda", dtype=torch.bfloat16)
                k, v = torch.randn_like(q), torch.randn_like(q)
                run = {"backend": backend.name, "heads": heads, "head_dim": head_dim, "seq": seq}
                try:
                    with sdpa_kernel(backend):
                        for _ in range(args.warmups):
                            attention(q, k, v, is_causal=True)
                        torch.cuda.synchronize()
                        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                        start.record()
                        for _ in range(args.repeats):
                            attention(q, k, v, is_causal=True)
                        end.record()
                        torch.cuda.synchronize()
                    seconds = start.elapsed_time(end) / args.repeats / 1e3
                    flops = 4 * heads * seq * seq * head_dim / 2
                    run.update(s=seconds, TFLOPs=flops / seconds / 1e12)
                except RuntimeError as err:  # a backend that refuses a shape says so in the file
                    run["error"] = str(err)[:200]
                runs.append(run)
                print(run, flush=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"torch": torch.__version__, "gpu": torch.cuda.get_device_name(), "runs": runs}, f, indent=1)


if __name__ == "__main__":
    main()
