"""scikit-learn GaussianMixture on a features file, for bench/gmm_vs_sklearn.sh.

Usage: gmm_sklearn.py FEATURES.h5 GMM.h5 K COVARIANCE ITERS
Starts from distclust's initial model (the gmm.h5 of a run with --iters 1 is
not that; so the start is the k-means hard assignment of GMM.h5's /assign
M-stepped as sklearn does) and times ITERS EM iterations with tol=0.
Prints: sklearn_s_per_iter, the mean log-likelihood after ITERS.
"""
import sys, time
import h5py, numpy as np
from sklearn.mixture import GaussianMixture
from sklearn.mixture._gaussian_mixture import _estimate_gaussian_parameters, _compute_precision_cholesky

feat, pred, k, cov, iters = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
X = h5py.File(feat, "r")["features"][:].astype(np.float64)
g = h5py.File(pred, "r")
labels, reg = g["assign"][:], float(g.attrs["reg_covar"])
resp = np.zeros((X.shape[0], k)); resp[np.arange(X.shape[0]), labels] = 1
w, m, c = _estimate_gaussian_parameters(X, resp, reg, cov)
w /= w.sum()
prec = _compute_precision_cholesky(c, cov)
prec_init = np.array([p @ p.T for p in prec]) if cov == "full" else prec ** 2
def fit(n):
    gm = GaussianMixture(k, covariance_type=cov, reg_covar=reg, max_iter=n, tol=0, weights_init=w, means_init=m,
                         precisions_init=prec_init)
    t0 = time.perf_counter(); gm.fit(X); return time.perf_counter() - t0, gm
t1, _ = fit(1)
tn, gm = fit(iters)
print(f"sklearn fit({iters}) {tn:.3f} s, fit(1) {t1:.3f} s, marginal s/iter {(tn - t1) / (iters - 1):.4f}, "
      f"fit/n_iter {tn / iters:.4f}, mean loglik {gm.score(X):.6f}")
