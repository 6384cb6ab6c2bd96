#!/usr/bin/python3
"""FAISS IndexIVFFlat kNN graph on a features.h5, timed as distclust's IVF mode works.

Usage: ivf_peers.py FEATURES.h5 K [--metric cosine|l2] [--threads 2] [--nlist 0]
                    [--train-per-list 64] [--niter 10] [--target 0.97]
                    [--tune-sample 1000] [--recall-sample 2000] [--nprobe 0]
                    [--check knn.h5]

The same recipe as `distclust knn --mode ivf`, so that the two differ in
their kernels only: nlist ~4*sqrt(N), coarse k-means on nlist *
train-per-list sampled rows (random init, niter iterations, spherical for
cosine), then nprobe: the smallest with recall@K >= target on tune-sample
rows (0 = tune; else given), then every row's K neighbours (self dropped).
FAISS's own default sample is 256 rows a list: `--train-per-list 256`.
Timed: train, add, tuning (its exact sample neighbours included, as
distclust's tuning includes them) and the search of all N rows. recall@K
on recall-sample other rows against exact search (not timed, as distclust's
--recall-sample is; a check, with --check, of the fraction of rows whose
lists equal a distclust knn.h5 as sets). Prints `PEER {json}`.
"""
import argparse, json, math, os, time

import faiss
import h5py
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("features"); ap.add_argument("k", type=int)
ap.add_argument("--metric", default="cosine", choices=["cosine", "l2"])
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--nlist", type=int, default=0)
ap.add_argument("--train-per-list", type=int, default=64)
ap.add_argument("--niter", type=int, default=10)
ap.add_argument("--target", type=float, default=0.97)
ap.add_argument("--tune-sample", type=int, default=1000)
ap.add_argument("--recall-sample", type=int, default=2000)
ap.add_argument("--nprobe", type=int, default=0)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--check", default="")
a = ap.parse_args()

faiss.omp_set_num_threads(a.threads)
X = h5py.File(a.features, "r")["features"][:].astype(np.float32)
if a.metric == "cosine":
    X /= np.linalg.norm(X, axis=1, keepdims=True)
n, d = X.shape
k = a.k
nlist = a.nlist or max(1, int(round(4 * math.sqrt(n))))
rng = np.random.default_rng(a.seed)
picked = rng.choice(n, size=a.tune_sample + a.recall_sample, replace=False)
tune_rows, recall_rows = picked[: a.tune_sample], picked[a.tune_sample:]
ip = a.metric == "cosine"
times = {}


def exact(rows):
    """Each row's k exact neighbours, self dropped (a flat index: BLAS)."""
    flat = faiss.IndexFlatIP(d) if ip else faiss.IndexFlatL2(d)
    flat.add(X)
    _, I = flat.search(X[rows], k + 1)
    return drop_self(I, rows)


def drop_self(I, rows):
    """The first k ids of each row of I that are not the row itself (-1: none)."""
    rows = np.asarray(rows)
    keep = np.argsort(I == rows[:, None], axis=1, kind="stable")[:, :k]
    return np.take_along_axis(I, keep, axis=1)


def recall(got, truth):
    return float(np.mean([len(set(g) & set(t)) / k for g, t in zip(got, truth)]))


t0 = time.perf_counter()
quantizer = faiss.IndexFlatIP(d) if ip else faiss.IndexFlatL2(d)
index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT if ip else faiss.METRIC_L2)
index.cp.niter = a.niter
index.cp.spherical = ip
index.cp.max_points_per_centroid = a.train_per_list
index.cp.seed = a.seed
index.train(X)  # FAISS samples nlist * max_points_per_centroid rows itself
times["train"] = time.perf_counter() - t0
t0 = time.perf_counter()
index.add(X)
times["add"] = time.perf_counter() - t0

t0 = time.perf_counter()
nprobe, tuned_recall = a.nprobe, None
if nprobe == 0:
    truth = exact(tune_rows)
    lo, hi = 1, 1
    # Doubling, then bisection: the smallest nprobe whose sample recall reaches the target.
    while True:
        index.nprobe = hi
        r = recall(drop_self(index.search(X[tune_rows], k + 1)[1], tune_rows), truth)
        if r >= a.target or hi >= nlist:
            break
        lo, hi = hi + 1, min(nlist, hi * 2)
    while lo < hi:
        mid = (lo + hi) // 2
        index.nprobe = mid
        if recall(drop_self(index.search(X[tune_rows], k + 1)[1], tune_rows), truth) >= a.target:
            hi = mid
        else:
            lo = mid + 1
    nprobe = hi
    index.nprobe = nprobe
    tuned_recall = recall(drop_self(index.search(X[tune_rows], k + 1)[1], tune_rows), truth)
times["tune"] = time.perf_counter() - t0

index.nprobe = nprobe
t0 = time.perf_counter()
_, I = index.search(X, k + 1)
times["search"] = time.perf_counter() - t0
total = sum(times.values())

G = drop_self(I, np.arange(n))
res = {"peer": "faiss-%s" % faiss.__version__, "index": "IndexIVFFlat", "n": n, "d": d, "k": k,
       "metric": a.metric, "threads": a.threads, "nlist": nlist, "train_rows": min(n, nlist * a.train_per_list),
       "niter": a.niter, "nprobe": nprobe, "tune_recall": tuned_recall, "seconds": total,
       "phases": {p: round(s, 2) for p, s in times.items()},
       "recall_at_k": recall(G[recall_rows], exact(recall_rows)), "recall_rows": len(recall_rows),
       "env": {v: os.environ.get(v, "unset") for v in ("OMP_WAIT_POLICY", "OPENBLAS_CORETYPE")}}
if a.check:
    D = h5py.File(a.check, "r")["indices"][:, :k]
    res["rows_equal_to_distclust_as_sets"] = float(np.mean([set(g) == set(h) for g, h in zip(G, D)]))
print("PEER " + json.dumps(res))
