# umap-learn (min_dist 0, on a given kNN graph) on a features file, then
# scikit-learn KMeans and GaussianMixture on the embedding: ACC (Hungarian),
# NMI, seconds; trustworthiness@15 (cosine, 4,000 sampled rows) of its
# embedding and of distclust's.
# Usage: PY bench/digits_umap_ref.py features.h5 DIM SEED knn.h5 embed.h5
#   knn.h5: distclust's graph (k neighbours, self excluded), handed to
#   umap-learn as precomputed_knn with self prepended (n_neighbors = k + 1,
#   umap-learn counts the point itself), so both embed the same graph.
import h5py, numpy as np, time, sys
import umap
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture
from sklearn.manifold import trustworthiness
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import normalized_mutual_info_score as nmi


def acc(y, p):
    K = max(y.max(), p.max()) + 1; C = np.zeros((K, K))
    for a, b in zip(p, y): C[a, b] += 1
    r, c = linear_sum_assignment(-C); return C[r, c].sum() / len(y)


f = h5py.File(sys.argv[1]); X = f['features'][:]; y = f['labels'][:]
dim, seed = int(sys.argv[2]), int(sys.argv[3])
g = h5py.File(sys.argv[4]); ind = g['indices'][:]; sim = g['similarities'][:]
n, k = ind.shape
knn_i = np.hstack([np.arange(n)[:, None], ind]).astype(np.int64)
knn_d = np.hstack([np.zeros((n, 1), np.float32), np.maximum(0, 1 - sim)]).astype(np.float32)
def fit(rs):
    return umap.UMAP(n_components=dim, n_neighbors=k + 1, min_dist=0.0, metric='cosine', random_state=rs,
                     precomputed_knn=(knn_i, knn_d, None)).fit_transform(X)


# The scores come from the seeded fit (reproducible; random_state makes
# umap-learn run its layout on one thread). The time to compare with is its
# best configuration: numba already compiled, random_state=None (parallel).
t = time.time()
E = fit(seed)
print('umap-learn %s: %d-D on the same %d-NN graph, random_state=%d: %.1f s (numba compilation included)'
      % (umap.__version__, dim, k, seed, time.time() - t))
best = []
for _ in range(2):
    t = time.time(); fit(None); best.append(time.time() - t)
print('umap-learn best configuration (compiled, random_state=None, parallel): %.1f s (best of %s)'
      % (min(best), ', '.join('%.1f' % b for b in best)))
for name, m in [('KMeans (10 inits)', KMeans(10, n_init=10, random_state=seed)),
                ('GaussianMixture (full, 4 inits)', GaussianMixture(10, covariance_type='full', n_init=4, random_state=seed))]:
    t = time.time(); p = m.fit_predict(E)
    print('umap-learn + sklearn %s: ACC %.4f NMI %.4f (%.2f s)' % (name, acc(y, p), nmi(y, p), time.time() - t))
s = np.random.RandomState(0).choice(n, min(n, 4000), replace=False)
ours = h5py.File(sys.argv[5])['features'][:]
for name, e in [('umap-learn', E), ('distclust embed', ours)]:
    print('trustworthiness@15 %s: %.4f' % (name, trustworthiness(X[s], e[s], n_neighbors=15, metric='cosine')))
