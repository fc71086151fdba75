"""Time causal bf16 prompt attention by head dimension through PyTorch SDPA, once per backend (FlashAttention-2
build and cuDNN), on one GPU: TFLOP/s counting the causal half. Wrote data/measurements/h200_sdpa_head_dim.json
(its meta block added by hand) on an H200, 2026-12-04:

    python scripts/time_sdpa_head_dim.py out.json

Needs torch and a CUDA GPU.
"""
import json, sys, torch
from torch.nn.attention import sdpa_kernel, SDPBackend
out = []
for backend in (SDPBackend.FLASH_ATTENTION, SDPBackend.CUDNN_ATTENTION):
    for hd in (64, 128, 192, 256):
        for s in (4096, 8192):
            h = 4096 // 64 if hd == 64 else 32
            q = torch.randn(1, h, s, hd, device="cuda", dtype=torch.bfloat16)
            k, v = torch.randn_like(q), torch.randn_like(q)
            try:
                with sdpa_kernel(backend):
                    for _ in range(3):
                        torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
                    torch.cuda.synchronize()
                    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    a.record()
                    for _ in range(10):
                        torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
                    b.record(); torch.cuda.synchronize()
                t = a.elapsed_time(b) / 10 / 1e3
                flops = 4 * h * s * s * hd / 2
                out.append({"backend": backend.name, "heads": h, "head_dim": hd, "seq": s, "s": t, "TFLOPs": flops / t / 1e12})
            except Exception as e:  # noqa: BLE001
                out.append({"backend": backend.name, "heads": h, "head_dim": hd, "seq": s, "error": str(e)[:200]})
            print(out[-1], flush=True)
json.dump({"torch": torch.__version__, "gpu": torch.cuda.get_device_name(), "runs": out}, open(sys.argv[1], "w"), indent=1)
