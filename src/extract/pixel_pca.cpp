// PCA of the pixels backbone across ranks (pixels.h): exact integer moments
// allreduced, eigenproblem on rank 0, projection broadcast.
#include <Eigen/Dense>

#include <algorithm>
#include <cmath>

#include "distclust/error.h"
#include "distclust/log.h"
#include "extract/pixels.h"
#include "distclust/rng.h"

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

/// Moments of the sampled images' 8-bit values, summed over ranks.
struct PixelMoments {
  Eigen::MatrixXd cross;  ///< [D_in x D_in] sum of v v^T
  Eigen::VectorXd sum;    ///< [D_in] sum of v
  int64_t count = 0;      ///< readable sampled images
};

/// The keyed sample of this rank's rows, decoded and resized, their moments
/// allreduced. Products <= 255^2 and sums of them stay integers far below
/// 2^53, so double holds them exactly whatever the order of additions (GEMM
/// threads and blocking, then the allreduce).
PixelMoments sample_moments(const ImageSource& src, const PixelPcaOptions& o, Communicator& comm) {
  const int64_t s = o.size, d_in = 3 * s * s, n_all = src.size();
  const double p = std::min(1.0, double(o.max_sample) / double(std::max<int64_t>(1, n_all)));
  const RowRange mine = row_block(n_all, comm.rank(), comm.size());
  std::vector<int64_t> rows;
  for (int64_t i = mine.begin; i < mine.end; ++i)
    if (p >= 1.0 || unit_double(key_hash(o.seed, uint64_t(i), kPcaSampleKey)) < p) rows.push_back(i);
  PixelMoments mo{Eigen::MatrixXd::Zero(d_in, d_in), Eigen::VectorXd::Zero(d_in), 0};
  constexpr int64_t kChunk = 512;
  RowMat x(kChunk, d_in);
  std::vector<uint8_t> ok(kChunk);
  for (size_t c0 = 0; c0 < rows.size(); c0 += kChunk) {
    const int64_t m = std::min<int64_t>(kChunk, int64_t(rows.size() - c0));
#pragma omp parallel for num_threads(std::max(1, o.threads)) schedule(dynamic, 8)
    for (int64_t r = 0; r < m; ++r) {
      ok[r] = 0;
      DecodeResult img = load_image(src, rows[c0 + r], o.decode);
      if (!img.ok) continue;
      try {
        cv::Mat g = img.rgb.cols == s && img.rgb.rows == s ? img.rgb
                                                             : resize_pil(img.rgb, int(s), int(s), o.interpolation);
        for (int64_t y = 0; y < s; ++y) {
          const uint8_t* px = g.ptr<uint8_t>(int(y));
          for (int64_t xx = 0; xx < s; ++xx)
            for (int ch = 0; ch < 3; ++ch) x(r, ch * s * s + y * s + xx) = px[3 * xx + ch];
        }
        ok[r] = 1;
      } catch (const std::exception&) {
        // Left out of the sample; the extraction pass reports the row.
      }
    }
    int64_t k = 0;  // compact the valid rows to the top
    for (int64_t r = 0; r < m; ++r)
      if (ok[r]) {
        if (k != r) x.row(k) = x.row(r);
        ++k;
      }
    if (k == 0) continue;
    mo.cross.noalias() += x.topRows(k).transpose() * x.topRows(k);
    mo.sum += x.topRows(k).colwise().sum().transpose();
    mo.count += k;
  }
  comm.allreduce_sum(mo.cross.data(), size_t(d_in * d_in));
  comm.allreduce_sum(mo.sum.data(), size_t(d_in));
  mo.count = comm.sum(mo.count);
  return mo;
}

/// The projection from the moments, in the backbone's input units (rank 0).
void solve_projection(const PixelMoments& mo, const PixelPcaOptions& o, PixelProjection& proj) {
  const int64_t s = o.size, d_in = 3 * s * s;
  // Input units: x = a_c v + b_c per channel c (normalize_chw's affine map).
  Eigen::VectorXd a(d_in), b(d_in);
  for (int64_t j = 0; j < d_in; ++j) {
    const int ch = int(j / (s * s));
    const double mean = o.norm.mean[o.norm.mean.size() == 3 ? ch : 0];
    const double sd = o.norm.std[o.norm.std.size() == 3 ? ch : 0];
    a(j) = (o.norm.scale_to_unit ? 1.0 / 255.0 : 1.0) / sd;
    b(j) = -mean / sd;
  }
  const double n = double(mo.count);
  Eigen::VectorXd mv = mo.sum / n;
  // Covariance of v, then of x = a v + b: cov_x = diag(a) cov_v diag(a).
  Eigen::MatrixXd cov = (mo.cross - n * mv * mv.transpose()) / (n - 1);
  cov = a.asDiagonal() * cov * a.asDiagonal();
  std::vector<double> c(size_t(d_in * d_in));
  Eigen::Map<RowMat>(c.data(), d_in, d_in) = cov;
  proj.total_variance = cov.trace();
  top_eigenpairs(c, d_in, o.dim, o.exact_max_dim, o.seed, proj.components, proj.variances);
  for (int64_t j = 0; j < d_in; ++j) proj.mean[j] = a(j) * mv(j) + b(j);
}

}  // namespace

PixelProjection fit_pixel_pca(const ImageSource& src, const PixelPcaOptions& o, Communicator& comm) {
  const int64_t s = o.size, d_in = 3 * s * s, n_all = src.size();
  require(o.dim >= 1 && o.dim <= d_in, "extract.pca_dim is ", o.dim, " but the pixels backbone gives ", d_in,
          " values per image (3 x ", s, " x ", s, "); expected 1..", d_in);
  // The D_in x D_in moment matrix is held in double on every rank.
  require(d_in <= 8192, "extract.pixels_size ", s, " with PCA needs a ", d_in, " x ", d_in,
          " covariance (", d_in * d_in * 8 >> 20, " MiB); use pixels_size <= 52");
  require(o.max_sample >= 2, "extract.pca_sample is ", o.max_sample, " (expected >= 2)");
  const PixelMoments mo = sample_moments(src, o, comm);
  require(mo.count >= 2, "PCA of the pixels backbone: only ", mo.count, " readable images were sampled from ", n_all,
          " (need at least 2)");
  PixelProjection proj;
  proj.in_dim = d_in;
  proj.out_dim = o.dim;
  proj.sample_rows = mo.count;
  proj.mean.resize(size_t(d_in));
  proj.components.resize(size_t(o.dim) * d_in);
  proj.variances.resize(size_t(o.dim));
  if (comm.rank() == 0) solve_projection(mo, o, proj);
  comm.broadcast(proj.mean.data(), proj.mean.size() * sizeof(double), 0);
  comm.broadcast(proj.components.data(), proj.components.size() * sizeof(double), 0);
  comm.broadcast(proj.variances.data(), proj.variances.size() * sizeof(double), 0);
  comm.broadcast(&proj.total_variance, sizeof(double), 0);
  return proj;
}

}  // namespace distclust
