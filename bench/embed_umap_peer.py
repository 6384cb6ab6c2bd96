"""umap-learn on distclust's kNN graph, and the scores of both embeddings.

  embed_umap_peer.py umap FEATURES KNN DIM OUT.npy     -> prints umap-learn's seconds
  embed_umap_peer.py score FEATURES EMBEDDING[.h5|.npy] -> trustworthiness, k-means ACC

umap-learn gets the same graph: knn.h5's neighbours with the row itself
prepended at distance 0 (umap counts it among n_neighbors = k + 1), distances
1 - cosine similarity (umap's cosine distance) or sqrt of squared L2; its own
NN descent is skipped. Everything else is umap-learn's default (spectral init,
200 epochs for N >= 10000, parallel SGD: random_state=None)."""
import sys, time
import h5py, numpy as np


def load_graph(knn):
    f = h5py.File(knn, "r")
    idx, val = f["/indices"][:], f["/similarities"][:].astype(np.float32)
    metric = f.attrs.get("metric", b"cosine")
    metric = metric.decode() if isinstance(metric, bytes) else metric
    dist = 1.0 - val if metric == "cosine" else np.sqrt(np.maximum(val, 0))
    n = idx.shape[0]
    idx = np.hstack([np.arange(n)[:, None], idx]).astype(np.int64)
    dist = np.hstack([np.zeros((n, 1), np.float32), np.maximum(dist, 0)]).astype(np.float32)
    return idx, dist, metric


def run_umap(features, knn, dim, out):
    import umap
    X = h5py.File(features, "r")["/features"][:]
    idx, dist, metric = load_graph(knn)
    t0 = time.time()
    model = umap.UMAP(n_neighbors=idx.shape[1], n_components=dim, metric="cosine" if metric == "cosine" else "euclidean",
                      precomputed_knn=(idx, dist, None), low_memory=True, verbose=True)
    emb = model.fit_transform(X)
    secs = time.time() - t0
    np.save(out, emb.astype(np.float32))
    print(f"umap-learn: {secs:.1f} s", flush=True)


def acc(y, p):
    from scipy.optimize import linear_sum_assignment
    k = int(max(y.max(), p.max())) + 1
    c = np.zeros((k, k))
    np.add.at(c, (p, y), 1)
    r, cc = linear_sum_assignment(-c)
    return c[r, cc].sum() / len(y)


def score(features, emb_path, sample=10000):
    from sklearn.cluster import KMeans
    from sklearn.manifold import trustworthiness
    f = h5py.File(features, "r")
    X, y = f["/features"], f["/labels"][:]
    emb = np.load(emb_path) if emb_path.endswith(".npy") else h5py.File(emb_path, "r")["/features"][:]
    rng = np.random.RandomState(0)
    s = np.sort(rng.choice(len(y), min(len(y), sample), replace=False))
    Xs = X[s]
    t = trustworthiness(Xs, emb[s], n_neighbors=15, metric="cosine")
    k = int(y.max()) + 1
    p = KMeans(k, n_init=3, random_state=0).fit_predict(emb)
    print(f"trustworthiness@15 {t:.4f} (cosine, {len(s)} sampled rows)  k-means ACC {acc(y, p):.4f} (K={k})")


if __name__ == "__main__":
    if sys.argv[1] == "umap":
        run_umap(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    else:
        score(sys.argv[2], sys.argv[3])
