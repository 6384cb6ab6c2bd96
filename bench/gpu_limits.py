#!/usr/bin/env python3
"""The device's measured limits, the ceilings the GPU figures are set against:
matrix-product rates (fp32, tf32, bf16; TFLOP/s = 2*M*N*K / s) and the
device-to-device copy bandwidth (GB/s counting bytes read plus written).

  python3 bench/gpu_limits.py [--device cuda] [--size 8192] [--copy-mib 4096] [--json out.json]
  python3 bench/gpu_limits.py --device cpu --size 256 --copy-mib 16     (a quick check without a GPU)

Each figure: the mean of --reps timed runs after --warmup untimed ones, timed
with CUDA events on a GPU (wall clock on the CPU), on random data (zeros
run faster on Hopper: less switching power, higher clocks). With --device
cuda:N, device N is made the current device for the whole measurement, so
the work and the timing events share its stream. --size, --copy-mib and
--reps must be >= 1 and --warmup >= 0 (anything else is refused).
"""
import argparse
import json
import sys
import time

import torch


def timer(device):
    """Returns a function timing fn() reps times, in seconds per call."""
    def run(fn, warmup, reps):
        for _ in range(warmup):
            fn()
        if device.type == "cuda":
            # The events go on the stream the work runs on: device's current
            # stream (main() made device the current device as well).
            with torch.cuda.device(device):
                torch.cuda.synchronize(device)
                stream = torch.cuda.current_stream(device)
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record(stream)
                for _ in range(reps):
                    fn()
                end.record(stream)
                end.synchronize()
                return start.elapsed_time(end) / 1e3 / reps
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        return (time.perf_counter() - t0) / reps
    return run


def gemm_tflops(device, dtype, tf32, n, warmup, reps):
    """Square n x n x n product in dtype; tf32 switches TF32 tensor cores on for fp32."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = tf32
    g = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(n, n, device=device, dtype=dtype, generator=g)
    b = torch.randn(n, n, device=device, dtype=dtype, generator=g)
    c = torch.empty(n, n, device=device, dtype=dtype)
    s = timer(device)(lambda: torch.mm(a, b, out=c), warmup, reps)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
    return 2.0 * n ** 3 / s / 1e12


def copy_gbps(device, mib, warmup, reps):
    """Device-to-device copy of mib MiB: (read + written bytes) / s."""
    n = mib * 1024 * 1024 // 4
    src = torch.rand(n, device=device)
    dst = torch.empty_like(src)
    s = timer(device)(lambda: dst.copy_(src), warmup, reps)
    return 2.0 * src.numel() * 4 / s / 1e9


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu")
    ap.add_argument("--size", type=int, default=8192, help="matrix side of the products")
    ap.add_argument("--copy-mib", type=int, default=4096, help="MiB copied per copy")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--json", help="also write the figures here")
    a = ap.parse_args()
    for opt, value, least in [("--size", a.size, 1), ("--copy-mib", a.copy_mib, 1), ("--reps", a.reps, 1),
                              ("--warmup", a.warmup, 0)]:
        if value < least:
            ap.error(f"{opt} {value}: must be >= {least}")
    device = torch.device(a.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            sys.exit(f"gpu_limits: --device {a.device} but torch {torch.__version__} sees no CUDA device")
        if device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
        if device.index >= torch.cuda.device_count():
            sys.exit(f"gpu_limits: --device {a.device} but torch sees {torch.cuda.device_count()} CUDA device(s)")
        # Every kernel, allocation and timing event below runs on this device
        # (torch.cuda.Event.record() with no stream records on the current
        # device's stream, which is device 0 unless it is set).
        torch.cuda.set_device(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    r = {"device": name, "torch": torch.__version__, "cuda": torch.version.cuda, "size": a.size,
         "copy_mib": a.copy_mib}
    r["fp32_tflops"] = gemm_tflops(device, torch.float32, False, a.size, a.warmup, a.reps)
    # TF32 exists on CUDA only; on the CPU the figure is plain fp32 again.
    r["tf32_tflops"] = gemm_tflops(device, torch.float32, True, a.size, a.warmup, a.reps)
    r["bf16_tflops"] = gemm_tflops(device, torch.bfloat16, False, a.size, a.warmup, a.reps)
    r["copy_gbps"] = copy_gbps(device, a.copy_mib, a.warmup, a.reps)
    print(f"gpu limits on {name} (torch {torch.__version__}, CUDA {torch.version.cuda}):")
    for key, label in [("fp32", "fp32"), ("tf32", "tf32"), ("bf16", "bf16")]:
        print(f"  GEMM {label} {a.size}^3      {r[key + '_tflops']:10.2f} TFLOP/s")
    print(f"  copy {a.copy_mib} MiB d2d    {r['copy_gbps']:10.1f} GB/s (read + written)")
    print("RESULT " + json.dumps(r))
    if a.json:
        with open(a.json + ".tmp", "w") as f:
            json.dump(r, f)
            f.write("\n")
        import os
        os.replace(a.json + ".tmp", a.json)


if __name__ == "__main__":
    main()
