// PCA across ranks for any backbone (pca.h): keyed sample, exact moments,
// eigenproblem on rank 0, projection broadcast and applied row by row.
#include "extract/pca.h"

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "distclust/error.h"
#include "distclust/rng.h"
#include "distclust/runtime.h"

namespace distclust {
namespace {

using RowMat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Third key of the sample draw, so the PCA sample is not correlated with any
// other draw keyed by (seed, row).
constexpr uint64_t kPcaSampleKey = 0x70636173616d706cull;  // "pcasampl"

// Eigen's products pick their blocking from the thread count: one thread
// makes the solve the same on any rank layout.
struct EigenSingleThread {
  int saved = Eigen::nbThreads();
  EigenSingleThread() { Eigen::setNbThreads(1); }
  ~EigenSingleThread() { Eigen::setNbThreads(saved); }
};

// Makes the largest-magnitude entry of each column positive.
void fix_signs(Eigen::MatrixXd& v) {
  for (Eigen::Index c = 0; c < v.cols(); ++c) {
    Eigen::Index at = 0;
    v.col(c).cwiseAbs().maxCoeff(&at);
    if (v(at, c) < 0) v.col(c) = -v.col(c);
  }
}

}  // namespace

std::vector<int64_t> pca_sample_rows(int64_t n, RowRange mine, int64_t max_sample, uint64_t seed) {
  std::vector<int64_t> rows;
  if (max_sample >= n) {
    for (int64_t i = mine.begin; i < mine.end; ++i) rows.push_back(i);
    return rows;
  }
  // Row i's place in the draw: its key, the row breaking (improbable) ties.
  using Key = std::pair<uint64_t, int64_t>;
  const auto key = [&](int64_t i) { return Key{key_hash(seed, uint64_t(i), kPcaSampleKey), i}; };
  // The max_sample-th smallest key over all N rows (a max-heap of the
  // smallest; every rank sees the same N keys, so the same bound). The
  // Bernoulli draw alone gave max_sample +- sqrt(max_sample) rows: 0 of 30
  // for pca_sample 2, and the fit then said no image was readable.
  std::vector<Key> heap;
  heap.reserve(size_t(std::max<int64_t>(0, max_sample)));
  for (int64_t i = 0; i < n && max_sample > 0; ++i) {
    const Key k = key(i);
    if (int64_t(heap.size()) < max_sample) {
      heap.push_back(k);
      std::push_heap(heap.begin(), heap.end());
    } else if (k < heap.front()) {
      std::pop_heap(heap.begin(), heap.end());
      heap.back() = k;
      std::push_heap(heap.begin(), heap.end());
    }
  }
  // A row is in when the keyed draw (key < max_sample / N, as before) or the
  // max_sample smallest keys hold it: both are the rows below a bound in the
  // same order, so the sample is the larger of the two, never fewer than
  // max_sample rows, and the draw's own rows are kept where it had enough.
  const double p = double(max_sample) / double(n);
  for (int64_t i = mine.begin; i < mine.end; ++i) {
    const Key k = key(i);
    if (unit_double(k.first) < p || (!heap.empty() && !(heap.front() < k))) rows.push_back(i);
  }
  return rows;
}

double pca_memory_bytes(int64_t d, int64_t exact_max_dim) {
  // D x D doubles: the moments on every rank; on rank 0 also the centred
  // covariance, its scaled and row-major copies, and the eigensolver's
  // matrix and vectors up to exact_max_dim (beyond: subspace iteration,
  // D x (2 dim + 16)). Measured (/usr/bin/time -v, embed of 2000 x 6144
  // rows, one rank): 1.05 GiB peak, this estimate 1.13 GiB, the D x D
  // moments alone 0.28 GiB. The callers refuse D above kPcaMaxInputDim
  // (8192: 2 GiB of estimate) by name first; this check is what says
  // whether a D below it fits the machine (and covers any caller without it).
  const double dd = double(d) * double(d) * 8.0;
  return dd * (d <= exact_max_dim ? 6.0 : 4.0);
}

void require_pca_memory(int64_t d, int64_t exact_max_dim, double held_bytes) {
  require_memory(pca_memory_bytes(d, exact_max_dim) + held_bytes,
                 fmt("a PCA of D=", d, " columns (D x D moments, covariance and eigensolver in double on rank 0",
                     held_bytes > 0 ? ", and this rank's sampled rows" : "",
                     "; reduce D first, e.g. a smaller image side or layer)"));
}

PcaMoments::PcaMoments(int64_t d, int64_t exact_max_dim) : dim(d) {
  require_pca_memory(d, exact_max_dim, 0);
  cross.assign(size_t(d * d), 0.0);
  sum.assign(size_t(d), 0.0);
}

void PcaMoments::add(const double* v, int64_t m) {
  if (m <= 0) return;
  Eigen::Map<const RowMat> x(v, m, dim);
  Eigen::Map<Eigen::MatrixXd> c(cross.data(), dim, dim);  // symmetric: the layout does not matter
  Eigen::Map<Eigen::VectorXd> s(sum.data(), dim);
  c.noalias() += x.transpose() * x;
  s += x.colwise().sum().transpose();
  count += m;
}

void PcaMoments::allreduce(Communicator& comm) {
  comm.allreduce_sum(cross.data(), cross.size());
  comm.allreduce_sum(sum.data(), sum.size());
  count = comm.sum(count);
}

void top_eigenpairs(const std::vector<double>& cov, int64_t n, int dim, int64_t exact_max_dim, uint64_t seed,
                    std::vector<double>& vectors, std::vector<double>& values) {
  require(dim >= 1 && dim <= n && int64_t(cov.size()) == n * n, "top_eigenpairs: ", dim, " of a ", n, " x ", n,
          " matrix (", cov.size(), " values given)");
  EigenSingleThread one;
  Eigen::Map<const RowMat> a(cov.data(), n, n);
  Eigen::MatrixXd vec;  // n x dim, by decreasing eigenvalue
  Eigen::VectorXd val;
  if (n <= exact_max_dim) {
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(a);
    require(es.info() == Eigen::Success, "PCA: the eigensolver did not converge on the ", n, " x ", n,
            " covariance");
    vec = es.eigenvectors().rightCols(dim).rowwise().reverse();
    val = es.eigenvalues().tail(dim).reverse();
  } else {
    // Block subspace iteration from a keyed random start, then Rayleigh-Ritz:
    // with k = 2 dim + 16 columns and 10 sweeps the leading dim pairs of a
    // covariance's decaying spectrum are found to many digits (a unit test
    // checks it against the full solver).
    const int64_t k = std::min<int64_t>(n, 2 * int64_t(dim) + 16);
    Eigen::MatrixXd q(n, k);
    for (int64_t j = 0; j < k; ++j) {
      KeyedRng rng(seed, uint64_t(j));
      for (int64_t i = 0; i < n; ++i) q(i, j) = rng.normal();
    }
    for (int it = 0; it < 10; ++it) {
      Eigen::MatrixXd z = a * q;
      Eigen::HouseholderQR<Eigen::MatrixXd> qr(z);
      q = qr.householderQ() * Eigen::MatrixXd::Identity(n, k);
    }
    Eigen::MatrixXd b = q.transpose() * (a * q);
    b = 0.5 * (b + b.transpose());
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(b);
    require(es.info() == Eigen::Success, "PCA: the eigensolver did not converge on the projected ", k, " x ", k,
            " matrix");
    vec = q * es.eigenvectors().rightCols(dim).rowwise().reverse();
    val = es.eigenvalues().tail(dim).reverse();
  }
  fix_signs(vec);
  vectors.resize(size_t(dim) * n);
  values.resize(size_t(dim));
  for (int c = 0; c < dim; ++c) {
    values[c] = std::max(0.0, val(c));
    for (int64_t i = 0; i < n; ++i) vectors[size_t(c) * n + i] = vec(i, c);
  }
}

namespace {

/// The projection of x = a v + b from v's moments (rank 0).
void solve_on_root(const PcaMoments& mo, const std::vector<double>& a_in, const std::vector<double>& b_in,
                   const PcaOptions& o, Projection& proj) {
  const int64_t d_in = mo.dim;
  Eigen::Map<const Eigen::VectorXd> a(a_in.data(), d_in), b(b_in.data(), d_in);
  const double n = double(mo.count);
  Eigen::VectorXd mv = Eigen::Map<const Eigen::VectorXd>(mo.sum.data(), d_in) / n;
  // Covariance of v, then of x = a v + b: cov_x = diag(a) cov_v diag(a).
  Eigen::MatrixXd cov = (Eigen::Map<const Eigen::MatrixXd>(mo.cross.data(), d_in, d_in) - n * mv * mv.transpose()) /
                        (n - 1);
  cov = a.asDiagonal() * cov * a.asDiagonal();
  std::vector<double> c(size_t(d_in * d_in));
  Eigen::Map<RowMat>(c.data(), d_in, d_in) = cov;
  proj.total_variance = cov.trace();
  top_eigenpairs(c, d_in, o.dim, o.exact_max_dim, o.seed, proj.components, proj.variances);
  for (int64_t j = 0; j < d_in; ++j) proj.mean[j] = a(j) * mv(j) + b(j);
  if (o.whiten) {
    const double eps = kWhitenEps * proj.variances[0];
    for (int k = 0; k < o.dim; ++k) proj.scales[k] = 1.0 / std::sqrt(proj.variances[k] + eps);
    // A sample of identical rows has no variance at all: no scale to give.
    for (double& s : proj.scales)
      if (!std::isfinite(s)) s = 1.0;
  }
}

}  // namespace

Projection solve_pca(const PcaMoments& mo, const std::vector<double>& a, const std::vector<double>& b,
                     const PcaOptions& o, Communicator& comm) {
  const int64_t d_in = mo.dim;
  require(o.dim >= 1 && o.dim <= d_in, "extract.pca_dim is ", o.dim, " but the rows have ", d_in,
          " values; expected 1..", d_in);
  require(mo.count >= 2, "PCA: only ", mo.count, " readable rows were sampled (need at least 2)");
  // m rows span at most m - 1 directions around their mean: the rest are
  // arbitrary, with variance ~0, and whitening scaled them up to dominate
  // every row that has any value there.
  require(!o.whiten || mo.count > o.dim, "extract.pca_whiten: ", mo.count, " sampled rows span at most ",
          mo.count - 1, " directions, fewer than extract.pca_dim = ", o.dim,
          ": raise extract.pca_sample (or the images), lower pca_dim, or do not whiten");
  require(int64_t(a.size()) == d_in && int64_t(b.size()) == d_in, "solve_pca: affine map of ", a.size(), " and ",
          b.size(), " values for ", d_in, " columns");
  Projection proj;
  proj.in_dim = d_in;
  proj.out_dim = o.dim;
  proj.sample_rows = mo.count;
  proj.mean.resize(size_t(d_in));
  proj.components.resize(size_t(o.dim) * d_in);
  proj.variances.resize(size_t(o.dim));
  if (o.whiten) proj.scales.resize(size_t(o.dim));
  if (comm.rank() == 0) solve_on_root(mo, a, b, o, proj);
  comm.broadcast(proj.mean.data(), proj.mean.size() * sizeof(double), 0);
  comm.broadcast(proj.components.data(), proj.components.size() * sizeof(double), 0);
  comm.broadcast(proj.variances.data(), proj.variances.size() * sizeof(double), 0);
  if (o.whiten) comm.broadcast(proj.scales.data(), proj.scales.size() * sizeof(double), 0);
  comm.broadcast(&proj.total_variance, sizeof(double), 0);
  return proj;
}

namespace {

// out[k] = scale_k * sum_j c[k][j] * (x'[j] - mean[j]) with four interleaved
// partial sums in a fixed order: fast, and the same bits on every rank and
// thread. x' = x / |x| (norm summed in double) when the projection says so.
void project_row(const float* x, const Projection& p, double* centred, float* out) {
  const int64_t n = p.in_dim;
  double inv = 1.0;
  if (p.normalize_input) {
    double ss = 0;
    for (int64_t j = 0; j < n; ++j) ss += double(x[j]) * double(x[j]);
    inv = ss > 0 ? 1.0 / std::sqrt(ss) : 1.0;
  }
  for (int64_t j = 0; j < n; ++j) centred[j] = double(x[j]) * inv - p.mean[j];
  for (int64_t k = 0; k < p.out_dim; ++k) {
    const double* c = p.components.data() + k * n;
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
      s0 += c[j] * centred[j];
      s1 += c[j + 1] * centred[j + 1];
      s2 += c[j + 2] * centred[j + 2];
      s3 += c[j + 3] * centred[j + 3];
    }
    for (; j < n; ++j) s0 += c[j] * centred[j];
    const double s = (s0 + s1) + (s2 + s3);
    out[k] = static_cast<float>(p.scales.empty() ? s : s * p.scales[size_t(k)]);
  }
}

class ProjectedBackbone : public Backbone {
 public:
  ProjectedBackbone(std::unique_ptr<Backbone> inner, std::shared_ptr<const Projection> p, int threads)
      : inner_(std::move(inner)), p_(std::move(p)), threads_(std::max(1, threads)) {
    require_projection_input(*p_, inner_->dim(), inner_->describe());
  }
  int64_t dim() const override { return p_->out_dim; }
  void forward(const float* x, int64_t batch, float* out) override {
    raw_.resize(size_t(batch * p_->in_dim));
    inner_->forward(x, batch, raw_.data());
    project_rows(*p_, raw_.data(), batch, out, threads_);
  }
  std::string describe() const override {
    std::string what = inner_->describe() + fmt(" -> ", p_->normalize_input ? "L2, " : "", "PCA ", p_->out_dim,
                                                p_->scales.empty() ? "" : " whitened");
    if (!p_->from.empty()) return what + " (from " + p_->from + ")";
    double kept = 0;
    for (double v : p_->variances) kept += v;
    const double share = p_->total_variance > 0 ? 100.0 * kept / p_->total_variance : 0.0;
    return what + fmt(" (", share, "% of the variance, fitted on ", p_->sample_rows, " rows)");
  }
  bool on_gpu() const override { return inner_->on_gpu(); }
  std::string device() const override { return inner_->device(); }

 private:
  std::unique_ptr<Backbone> inner_;
  std::shared_ptr<const Projection> p_;
  int threads_;
  std::vector<float> raw_;
};

}  // namespace

void project_rows(const Projection& p, const float* x, int64_t n, float* out, int threads) {
#pragma omp parallel num_threads(std::max(1, threads))
  {
    std::vector<double> centred(static_cast<size_t>(p.in_dim));
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) project_row(x + i * p.in_dim, p, centred.data(), out + i * p.out_dim);
  }
}

void require_projection_input(const Projection& p, int64_t in_dim, const std::string& what) {
  require(p.out_dim >= 1 && int64_t(p.components.size()) == p.out_dim * p.in_dim &&
              int64_t(p.mean.size()) == p.in_dim && (p.scales.empty() || int64_t(p.scales.size()) == p.out_dim),
          "PCA projection", p.from.empty() ? std::string() : " of " + p.from, " is malformed: ", p.out_dim, " x ",
          p.in_dim, " with ", p.mean.size(), " mean values and ", p.scales.size(), " scales");
  require(p.in_dim == in_dim, "the PCA projection", p.from.empty() ? std::string() : " stored in " + p.from,
          " takes rows of ", p.in_dim, " values, but the backbone (", what, ") gives ", in_dim);
}

std::unique_ptr<Backbone> make_projected_backbone(std::unique_ptr<Backbone> inner, std::shared_ptr<const Projection> p,
                                                  int threads) {
  return std::make_unique<ProjectedBackbone>(std::move(inner), std::move(p), threads);
}

}  // namespace distclust
