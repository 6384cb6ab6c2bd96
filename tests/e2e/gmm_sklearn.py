"""Checks a distclust gmm.h5 against scikit-learn's GaussianMixture (tests/e2e/gmm_vs_sklearn.sh).

same-init FEATURES KMEANS.h5 GMM.h5: sklearn from the same start (the M-step
  of KMEANS.h5's /assign, as distclust's --init-iters 0 does) for the same
  iterations: the final mean log-likelihood, means, weights, covariances and
  assignments must agree to rounding.
own-init FEATURES GMM.h5 RESTARTS: sklearn with its own k-means init and
  n_init=RESTARTS: distclust's mean log-likelihood must not be lower by more
  than 0.02 per row, its ACC not lower by more than 0.03. Prints both.
"""
import sys, warnings
import h5py, numpy as np
from sklearn.mixture import GaussianMixture
from sklearn.mixture._gaussian_mixture import _estimate_gaussian_parameters, _compute_precision_cholesky
from scipy.optimize import linear_sum_assignment

warnings.filterwarnings("ignore")

def acc(y, p):
    k = max(y.max(), p.max()) + 1
    m = np.zeros((k, k)); np.add.at(m, (p, y), 1)
    r, c = linear_sum_assignment(-m)
    return m[r, c].sum() / len(y)

mode, feat = sys.argv[1], sys.argv[2]
f = h5py.File(feat, "r")
X = f["features"][:].astype(np.float64)
y = f["labels"][:]
if mode == "same-init":
    km, g = h5py.File(sys.argv[3], "r"), h5py.File(sys.argv[4], "r")
    k, cov, reg = int(g.attrs["k"]), g.attrs["covariance"].decode(), float(g.attrs["reg_covar"])
    resp = np.zeros((len(X), k)); resp[np.arange(len(X)), km["assign"][:]] = 1
    w, m, c = _estimate_gaussian_parameters(X, resp, reg, cov); w /= w.sum()
    pc = _compute_precision_cholesky(c, cov)
    pinit = np.array([p @ p.T for p in pc]) if cov == "full" else pc ** 2
    gm = GaussianMixture(k, covariance_type=cov, reg_covar=reg, max_iter=int(g.attrs["iterations"]), tol=0,
                         weights_init=w, means_init=m, precisions_init=pinit).fit(X)
    ll_sk, ll_dc = gm.score(X), float(g.attrs["final_log_likelihood"])
    scale = np.abs(X).max()
    err = {"loglik": abs(ll_sk - ll_dc),
           "means": np.abs(gm.means_ - g["means"][:]).max() / scale,
           "weights": np.abs(gm.weights_ - g["weights"][:]).max(),
           "covariances": np.abs(gm.covariances_ - g["covariances"][:]).max() / scale ** 2,
           "probabilities": np.abs(gm.predict_proba(X) - g["probabilities"][:]).max()}
    agree = (gm.predict(X) == g["assign"][:]).mean()
    print(f"  {cov}: {g.attrs['iterations']} iterations, mean loglik distclust {ll_dc:.12f} sklearn {ll_sk:.12f}; "
          f"max differences {', '.join(f'{k} {v:.1e}' for k, v in err.items())}; assignments agree {agree:.5f}")
    # Same start, same updates, double precision: only rounding differs.
    # 1e-9 allows the exact-sum grid (2^-40 of the sums) and the other
    # summation order over tens of EM iterations; probabilities are float32.
    for name, tol in [("loglik", 1e-9), ("means", 1e-9), ("weights", 1e-9), ("covariances", 1e-9),
                      ("probabilities", 1e-6)]:
        assert err[name] <= tol, f"{cov}: {name} differs from sklearn by {err[name]} > {tol}"
    assert agree >= 0.9999, f"{cov}: only {agree} of assignments agree"
else:
    g, restarts = h5py.File(sys.argv[3], "r"), int(sys.argv[4])
    k, cov = int(g.attrs["k"]), g.attrs["covariance"].decode()
    gm = GaussianMixture(k, covariance_type=cov, reg_covar=float(g.attrs["reg_covar"]), n_init=restarts,
                         random_state=0).fit(X)
    ll_sk, ll_dc = gm.score(X), float(g.attrs["final_log_likelihood"])
    acc_sk, acc_dc = acc(y, gm.predict(X)), acc(y, g["assign"][:])
    print(f"  {feat} {cov} k={k}: mean loglik distclust {ll_dc:.4f} sklearn {ll_sk:.4f}; "
          f"ACC distclust {acc_dc:.4f} sklearn {acc_sk:.4f}; BIC distclust {g.attrs['bic']:.1f} sklearn {gm.bic(X):.1f}")
    assert ll_dc >= ll_sk - 0.02, f"mean log-likelihood {ll_dc} is below sklearn's {ll_sk} by more than 0.02"
    assert acc_dc >= acc_sk - 0.03, f"ACC {acc_dc} is below sklearn's {acc_sk} by more than 0.03"
