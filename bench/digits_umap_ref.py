# umap-learn (n_neighbors 15, min_dist 0) on a features file, then scikit-learn
# KMeans and GaussianMixture on the embedding: ACC (Hungarian) and NMI.
# Usage: PY bench/digits_umap_ref.py features.h5 DIM [SEED]  (PY with umap-learn)
import h5py, numpy as np, time, sys
import umap
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import normalized_mutual_info_score as nmi
def acc(y, p):
    K = max(y.max(), p.max()) + 1; C = np.zeros((K, K))
    for a, b in zip(p, y): C[a, b] += 1
    r, c = linear_sum_assignment(-C); return C[r, c].sum() / len(y)
f = h5py.File(sys.argv[1]); X = f['features'][:]; y = f['labels'][:]
t = time.time()
E = umap.UMAP(n_components=int(sys.argv[2]), n_neighbors=15, min_dist=0.0, random_state=int(sys.argv[3]) if len(sys.argv) > 3 else None).fit_transform(X)
print('umap %.1f s' % (time.time() - t))
for name, m in [('kmeans', KMeans(10, n_init=10)), ('gmm', GaussianMixture(10, covariance_type='full', n_init=3))]:
    p = m.fit_predict(E); print(name, 'ACC %.4f NMI %.4f' % (acc(y, p), nmi(y, p)))
