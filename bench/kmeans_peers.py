#!/usr/bin/python3
"""Time the peer k-means implementations on a distclust features file.

Peers, all on the same /features matrix (float32 N x D):
  sklearn : KMeans(algorithm="lloyd", n_init=1, max_iter=I, tol=0,
            init=<K random rows>)  (explicit init array, so init costs nothing)
  faiss   : faiss.Kmeans(d, K, niter=I, max_points_per_centroid=N, seed=1,
            spherical=flag)        (all N points used, no subsampling)
  sgemm   : numpy  a[:m] @ c.T  with m = min(N, 65536)  (cross-check of the
            BLAS rate at the k-means shape)

GFLOP/s are 2*N*K*D per Lloyd iteration (the assignment GEMM), as in
`distclust bench kmeans`.

Run with Debian's python (/usr/bin/python3): it has numpy, h5py, sklearn and
faiss. Environment (OMP_WAIT_POLICY, OPENBLAS_CORETYPE) is taken as given;
bench/run_kmeans_bench.sh runs this script under several environments.

Prints a table and one line `PEERS {json}`.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def load_features(path):
    import h5py
    with h5py.File(path, "r") as f:
        x = f["/features"][...]
    return np.ascontiguousarray(x, dtype=np.float32)


class CpuShare:
    """Share of the machine's CPU used by *other* processes during a timed region:
    (busy jiffies of all CPUs from /proc/stat - this process's CPU time) / (ncpu * wall).
    Near 0 on a quiet machine; a shared machine shows it here."""

    def __init__(self):
        self.hz = os.sysconf("SC_CLK_TCK")
        self.ncpu = os.cpu_count() or 1

    def _busy(self):
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0)
        return (sum(v[:8]) - idle) / self.hz

    def __enter__(self):
        t = os.times()
        self.t0, self.b0, self.c0 = time.perf_counter(), self._busy(), t.user + t.system
        return self

    def __exit__(self, *a):
        t = os.times()
        wall = time.perf_counter() - self.t0
        others = (self._busy() - self.b0) - (t.user + t.system - self.c0)
        self.share = max(0.0, others) / (self.ncpu * wall) if wall > 0 else 0.0
        return False


def gflops(n, k, d, sec):
    return 2.0 * n * k * d / sec / 1e9 if sec and sec > 0 else None


def time_sklearn(x, k, iters, threads, init, seed):
    from sklearn.cluster import KMeans
    n, d = x.shape

    def fit(max_iter):
        km = KMeans(n_clusters=k, algorithm="lloyd", n_init=1,
                    max_iter=max_iter, tol=0.0, init=init, random_state=seed,
                    copy_x=True)
        t0 = time.perf_counter()
        km.fit(x)
        return time.perf_counter() - t0, int(km.n_iter_), float(km.inertia_)

    # warm-up + fixed-cost estimate: one iteration
    t1, it1, _ = fit(1)
    with CpuShare() as cs:
        tI, itI, inertia = fit(iters)
    per_iter = tI / itI
    marginal = (tI - t1) / (itI - it1) if itI > it1 else None
    return {
        "peer": "sklearn",
        "version": __import__("sklearn").__version__,
        "fit_seconds": tI,
        "n_iter": itI,
        "sec_per_iter": per_iter,  # total fit time / n_iter_ (init costs nothing)
        "sec_per_iter_marginal": marginal,  # (T(I)-T(1))/(I-1): fixed costs removed
        "fit_seconds_1iter": t1,
        "gflops": gflops(n, k, d, per_iter),
        "gflops_marginal": gflops(n, k, d, marginal),
        "inertia": inertia,
        "others_cpu_share": cs.share,
    }


def time_faiss(x, k, iters, threads, spherical, seed):
    import faiss
    faiss.omp_set_num_threads(threads)
    n, d = x.shape

    def train(niter):
        km = faiss.Kmeans(d, k, niter=niter, max_points_per_centroid=n,
                          seed=seed, spherical=spherical, verbose=False)
        t0 = time.perf_counter()
        km.train(x)
        return km, time.perf_counter() - t0

    train(1)  # warm-up (thread pools, BLAS buffers)
    with CpuShare() as cs:
        km, total = train(iters)
    res = {
        "peer": "faiss",
        "version": faiss.__version__,
        "spherical": spherical,
        "train_seconds": total,
        "n_iter": iters,
        "sec_per_iter_total": total / iters,
        "objective": float(km.obj[-1]) if len(km.obj) else None,
        "others_cpu_share": cs.share,
    }
    stats = getattr(km, "iteration_stats", None)
    if stats and "time" in stats[0]:
        # 'time' is cumulative seconds since the start of Clustering::train
        cum = [s["time"] for s in stats]
        per = [cum[0]] + [b - a for a, b in zip(cum, cum[1:])]
        res["iter_times"] = per
        res["time_is_cumulative"] = all(b >= a for a, b in zip(cum, cum[1:]))
        res["sec_per_iter"] = statistics.median(per)
        res["sec_per_iter_best"] = min(per)
        res["time_source"] = "iteration_stats (median of per-iteration deltas)"
    else:
        res["sec_per_iter"] = total / iters
        res["time_source"] = "total train time / iters"
    res["gflops"] = gflops(n, k, d, res["sec_per_iter"])
    res["gflops_total"] = gflops(n, k, d, res["sec_per_iter_total"])
    return res


def time_sgemm(x, k, reps, seed):
    n, d = x.shape
    m = min(n, 65536)
    rng = np.random.default_rng(seed)
    c = np.ascontiguousarray(x[rng.choice(n, k, replace=False)])
    a = x[:m]
    out = np.empty((m, k), dtype=np.float32)
    np.matmul(a, c.T, out=out)  # warm-up
    ts = []
    with CpuShare() as cs:
        for _ in range(reps):
            t0 = time.perf_counter()
            np.matmul(a, c.T, out=out)
            ts.append(time.perf_counter() - t0)
    best = min(ts)
    return {
        "peer": "numpy-sgemm",
        "version": np.__version__,
        "shape": [m, k, d],
        "sec_best": best,
        "sec_median": statistics.median(ts),
        "gflops": gflops(m, k, d, best),
        "gflops_median": gflops(m, k, d, statistics.median(ts)),
        "others_cpu_share": cs.share,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--features", required=True)
    ap.add_argument("--k", type=int, default=1000)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--peers", default="sklearn,faiss,sgemm",
                    help="comma list of sklearn,faiss,sgemm")
    ap.add_argument("--spherical", action="store_true",
                    help="cosine k-means (faiss spherical=True; sklearn has none and is skipped)")
    ap.add_argument("--sgemm-reps", type=int, default=5)
    ap.add_argument("--label", default="", help="configuration label, copied to the JSON")
    ap.add_argument("--json", help="also write the JSON here")
    args = ap.parse_args()

    from threadpoolctl import threadpool_limits, threadpool_info

    t0 = time.perf_counter()
    x = load_features(args.features)
    n, d = x.shape
    log(f"loaded {args.features}: {n} x {d} in {time.perf_counter() - t0:.2f}s")
    rng = np.random.default_rng(args.seed)
    init = np.ascontiguousarray(x[np.sort(rng.choice(n, args.k, replace=False))])

    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    results = []
    with threadpool_limits(limits=args.threads):
        pools = threadpool_info()
        for p in peers:
            if p == "sklearn":
                if args.spherical:
                    log("sklearn: no spherical k-means, skipped")
                    continue
                results.append(time_sklearn(x, args.k, args.iters, args.threads, init, args.seed))
            elif p == "faiss":
                results.append(time_faiss(x, args.k, args.iters, args.threads,
                                          args.spherical, args.seed))
            elif p == "sgemm":
                results.append(time_sgemm(x, args.k, args.sgemm_reps, args.seed))
            else:
                sys.exit(f"unknown peer {p}")
            log(f"{p}: done")

    env = {v: os.environ.get(v) for v in
           ("OMP_WAIT_POLICY", "OPENBLAS_CORETYPE", "OMP_NUM_THREADS",
            "OPENBLAS_NUM_THREADS", "GOMP_SPINCOUNT")}
    out = {
        "label": args.label,
        "n": n, "d": d, "k": args.k, "iters": args.iters,
        "threads": args.threads, "spherical": args.spherical,
        "env": env,
        "blas": [{kk: pi.get(kk) for kk in ("internal_api", "architecture", "version",
                                              "num_threads", "threading_layer")}
                 for pi in pools],
        "python": platform.python_version(),
        "results": results,
    }

    print(f"peers: N={n} D={d} K={args.k} iters={args.iters} threads={args.threads}"
          f"{' spherical' if args.spherical else ''} label={args.label!r}")
    print("  env: " + ", ".join(f"{k}={v if v is not None else '(unset)'}" for k, v in env.items()))
    for r in results:
        print(f"  [{r['peer']}: other processes used {100 * r['others_cpu_share']:.0f}% of the CPUs while timed]")
        if r["peer"] == "sklearn":
            print(f"  sklearn {r['version']:8s} {r['sec_per_iter']:.4f} s/iter "
                  f"({r['n_iter']} iters, fit {r['fit_seconds']:.2f}s) {r['gflops']:7.1f} GFLOP/s; "
                  f"marginal {r['sec_per_iter_marginal'] or float('nan'):.4f} s/iter "
                  f"{r['gflops_marginal'] or float('nan'):7.1f} GFLOP/s")
        elif r["peer"] == "faiss":
            print(f"  faiss   {r['version']:8s} {r['sec_per_iter']:.4f} s/iter "
                  f"[{r['time_source']}] {r['gflops']:7.1f} GFLOP/s; "
                  f"total/iters {r['sec_per_iter_total']:.4f} s/iter {r['gflops_total']:7.1f} GFLOP/s")
        else:
            m, k, dd = r["shape"]
            print(f"  numpy sgemm {m}x{k}x{dd}: best {r['sec_best']:.4f}s "
                  f"{r['gflops']:7.1f} GFLOP/s (median {r['gflops_median']:.1f})")
    line = json.dumps(out)
    print("PEERS " + line, flush=True)
    if args.json:
        with open(args.json, "w") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
