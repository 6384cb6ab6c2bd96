# Why umap-learn's layout clusters the MNIST digits a little better than
# distclust embed on the same graph (bench/RESULTS.md, "Digits without a
# pretrained network"): umap-learn's SGD replicated in numba on the graph
# umap-learn builds from distclust's 15-NN graph, from distclust's PCA
# initialisation, with one thing changed at a time. Mode 0: umap-learn's
# in-place updates (each sampled edge moves both ends by the same step,
# negatives against current positions); 1: distclust's (each row moves
# only itself, by twice the step, against the previous epoch's snapshot);
# 2: in place, head only, twice the step; 3: snapshot attraction, in-place
# negatives; 4 / 5: snapshot with 1x / 1.5x the step. Then scikit-learn's
# GaussianMixture (full, 4 inits) and ACC.
# Usage: PY bench/embed_sgd_replica.py MODE... (PY with umap-learn; reads
#   /tmp/digits-compare/deskew-true from bench/digits_compare.sh)
import os, sys, time
import h5py, numba, numpy as np
import umap
from umap.umap_ import fuzzy_simplicial_set, find_ab_params
from sklearn.mixture import GaussianMixture
from scipy.optimize import linear_sum_assignment
def acc(y, p):
    K = max(y.max(), p.max()) + 1; C = np.zeros((K, K))
    for a_, b_ in zip(p, y): C[a_, b_] += 1
    r, c = linear_sum_assignment(-C); return C[r, c].sum() / len(y)
W = '/tmp/digits-compare/deskew-true/'
X = h5py.File(W+'features.h5')['features'][:]; y = h5py.File(W+'features.h5')['labels'][:]
g = h5py.File(W+'knn.h5'); ind = g['indices'][:]; sim = g['similarities'][:]; n, k = ind.shape
ki = np.hstack([np.arange(n)[:, None], ind]); kd = np.hstack([np.zeros((n, 1), np.float32), np.maximum(0, 1 - sim)]).astype(np.float32)
G, _, _ = fuzzy_simplicial_set(X, k + 1, 0, 'cosine', knn_indices=ki, knn_dists=kd)
G = G.tocoo(); E = 500
G.data[G.data < G.data.max() / E] = 0; G.eliminate_zeros()
head, tail, w = G.row.astype(np.int64), G.col.astype(np.int64), G.data.astype(np.float64)
eps = w.max() / w
a, b = find_ab_params(1.0, 0.0)
from sklearn.decomposition import PCA
Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
init = PCA(10, random_state=0).fit_transform(Xn)
init = (10 * (init - init.min(0)) / (init.max(0) - init.min(0))).astype(np.float32)
init += np.random.RandomState(1).normal(scale=1e-4, size=init.shape).astype(np.float32)

@numba.njit
def clip(v): return 4.0 if v > 4.0 else (-4.0 if v < -4.0 else v)

@numba.njit
def run(Y, head, tail, eps, a, b, E, mode, seed):
    np.random.seed(seed)
    n, dim = Y.shape
    nxt = eps.copy(); eneg = eps / 5.0; nxtneg = eneg.copy()
    snap = Y.copy()
    for ep in range(E):
        alpha = 1.0 - ep / E
        src = snap if mode == 1 or mode == 3 or mode >= 4 else Y
        for i in range(eps.shape[0]):
            if nxt[i] <= ep:
                j = head[i]; kk = tail[i]
                cur = Y[j]; oth = src[kk]
                d2 = 0.0
                for d in range(dim): d2 += (cur[d] - oth[d]) ** 2
                gc = 0.0
                if d2 > 0: gc = -2.0 * a * b * d2 ** (b - 1.0) / (a * d2 ** b + 1.0)
                for d in range(dim):
                    gd = clip(gc * (cur[d] - oth[d]))
                    if mode == 0:
                        cur[d] += gd * alpha; Y[kk][d] -= gd * alpha
                    elif mode == 4:
                        cur[d] += gd * alpha
                    elif mode == 5:
                        cur[d] += 1.5 * gd * alpha
                    else:
                        cur[d] += 2 * gd * alpha
                nxt[i] += eps[i]
                nneg = int((ep - nxtneg[i]) / eneg[i])
                for p in range(nneg):
                    q = np.random.randint(n)
                    oth = Y[q] if mode == 3 else src[q]
                    d2 = 0.0
                    for d in range(dim): d2 += (cur[d] - oth[d]) ** 2
                    if d2 > 0:
                        gc = 2.0 * b / ((0.001 + d2) * (a * d2 ** b + 1))
                        for d in range(dim): cur[d] += clip(gc * (cur[d] - oth[d])) * alpha
                nxtneg[i] += nneg * eneg[i]
        if mode == 1:
            snap[:] = Y
    return Y
for mode in [int(m) for m in sys.argv[1:]]:
  for seed in [int(x) for x in os.environ.get('SEEDS', '1').split(',')]:
    t = time.time(); Yo = run(init.copy(), head, tail, eps, a, b, E, mode, seed)
    p = GaussianMixture(10, covariance_type='full', n_init=4, random_state=1).fit_predict(Yo)
    print('mode', mode, 'seed', seed, 'ACC %.4f' % acc(y, p), '%.1f s' % (time.time() - t), flush=True)
