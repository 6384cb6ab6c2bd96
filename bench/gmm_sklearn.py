"""scikit-learn GaussianMixture on a features file, for bench/gmm_vs_sklearn.sh.

Usage: gmm_sklearn.py FEATURES.h5 KMEANS.h5 GMM.h5 ITERS
Starts where `distclust gmm --init-centroids KMEANS.h5 --init-iters 0` starts
(the M-step of KMEANS.h5's /assign, GMM.h5's k, covariance and reg_covar)
and times ITERS EM iterations with tol=0 (fit(ITERS) and fit(1): the
marginal cost per iteration leaves out the per-fit set-up; ITERS >= 1, and at
ITERS = 1 the marginal figure is n/a).
Prints the times and the final mean log-likelihood of both.
"""
import sys, time, warnings
import h5py, numpy as np
from sklearn.mixture import GaussianMixture
warnings.filterwarnings("ignore")
from sklearn.mixture._gaussian_mixture import _estimate_gaussian_parameters, _compute_precision_cholesky

if len(sys.argv) != 5:
    sys.exit("usage: gmm_sklearn.py FEATURES.h5 KMEANS.h5 GMM.h5 ITERS")
feat, km, pred, iters = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
if iters < 1:
    sys.exit(f"gmm_sklearn.py: ITERS must be >= 1, not {iters}")
X = h5py.File(feat, "r")["features"][:].astype(np.float64)
g = h5py.File(pred, "r")
k, cov, reg = int(g.attrs["k"]), g.attrs["covariance"].decode(), float(g.attrs["reg_covar"])
labels = h5py.File(km, "r")["assign"][:]
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
marginal = f"{(tn - t1) / (iters - 1):.4f}" if iters > 1 else "n/a (ITERS = 1)"
print(f"sklearn {cov}: fit({iters}) {tn:.3f} s, fit(1) {t1:.3f} s, marginal s/iter {marginal}, "
      f"fit/n_iter {tn / iters:.4f}; mean loglik sklearn {gm.score(X):.10f} distclust "
      f"{float(g.attrs['final_log_likelihood']):.10f}")
