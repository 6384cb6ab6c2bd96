#!/usr/bin/python3
"""FAISS IndexFlatIP / IndexFlatL2 exact kNN graph on a features.h5, timed.

Usage: knn_peers.py FEATURES.h5 K [--metric cosine|l2] [--threads 2] [--check knn.h5]
Prints `PEER {json}` with seconds, GFLOP/s (2*N*N*D) and, with --check, the
fraction of rows whose neighbour lists equal distclust's knn.h5.
"""
import argparse, json, os, time

import faiss
import h5py
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("features"); ap.add_argument("k", type=int)
ap.add_argument("--metric", default="cosine"); ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--check", default="")
a = ap.parse_args()
X = h5py.File(a.features, "r")["features"][:].astype(np.float32)
if a.metric == "cosine":
    X /= np.linalg.norm(X, axis=1, keepdims=True)
n, d = X.shape
faiss.omp_set_num_threads(a.threads)
index = faiss.IndexFlatIP(d) if a.metric == "cosine" else faiss.IndexFlatL2(d)
index.add(X)
t0 = time.perf_counter()
D, I = index.search(X, a.k + 1)  # self included, dropped below
secs = time.perf_counter() - t0
res = {"peer": "faiss-%s" % faiss.__version__, "index": type(index).__name__, "n": n, "d": d, "k": a.k,
       "threads": a.threads, "seconds": secs, "gflops": 2.0 * n * n * d / secs / 1e9,
       "env": {k: os.environ.get(k, "unset") for k in ("OMP_WAIT_POLICY", "OPENBLAS_CORETYPE")}}
if a.check:
    G = h5py.File(a.check, "r")["indices"][:]
    ref = np.array([[j for j in row if j != i][: a.k] for i, row in enumerate(I)])
    res["rows_equal_to_distclust"] = float(np.mean(np.all(ref == G, axis=1)))
print("PEER " + json.dumps(res))
