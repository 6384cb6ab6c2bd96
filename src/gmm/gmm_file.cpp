#include "gmm/gmm_file.h"

#include "comm/local_comm.h"
#include "io/finite.h"
#include "distclust/error.h"
#include "gmm/gmm_model.h"
#include "io/h5store.h"

namespace distclust {

void write_gmm(const std::string& path, Communicator& comm, const FeatureBlock& b, const RowsIdentity& rows,
               const GMMResult& r,
               const GMMParams& p, const std::string& params_yaml, const std::string& params_hash) {
  const int64_t k = r.model.k, d = r.model.d;
  H5Writer w(path, comm);
  w.create<int64_t>("/assign", {b.n_total});
  w.write_rows("/assign", b.rows, r.assign.data());
  w.create<float>("/probabilities", {b.n_total, k});
  w.write_rows("/probabilities", b.rows, r.probabilities.data());
  w.create<float>("/confidence", {b.n_total});
  w.write_rows("/confidence", b.rows, r.confidence.data());
  w.write_all<double>("/means", {k, d}, r.model.means.data());
  if (r.model.full)
    w.write_all<double>("/covariances", {k, d, d}, r.model.covariances.data());
  else
    w.write_all<double>("/covariances", {k, d}, r.model.covariances.data());
  w.write_vector("/weights", r.model.weights);
  w.write_vector("/log_likelihood", r.log_likelihood);
  w.write_vector("/restart_log_likelihood", r.restart_log_likelihood);
  w.attr("created_by", std::string("distclust ") + DISTCLUST_VERSION);
  w.attr("stage", std::string("gmm"));
  w.attr("params", params_yaml);
  w.attr("config_hash", params_hash);
  write_rows_identity(w, rows);  // whose rows /assign's are (io/rows_identity.h)
  w.attr("k", k);
  w.attr("covariance", p.covariance);
  w.attr("reg", p.reg);
  w.attr("reg_covar", r.reg_covar);
  w.attr("final_log_likelihood", r.final_log_likelihood);
  w.attr("bic", r.bic());
  w.attr("aic", r.aic());
  w.attr("n_parameters", r.n_parameters());
  w.attr("valid_rows", r.n_valid);
  w.attr("best_restart", int64_t(r.best_restart));
  w.attr("iterations", int64_t(r.iterations));
  w.attr("converged", int64_t(r.converged ? 1 : 0));
  w.attr("empty_components", r.empty_components);
  w.commit();
}

GMMParamsFit read_gmm_model(const std::string& path) {
  LocalCommunicator self;
  H5Reader r(path, self);
  require(r.has("/means") && r.has("/covariances") && r.has("/weights"), path,
          " has no /means, /covariances or /weights: not a gmm.h5 written by `distclust gmm`");
  const DatasetInfo m = r.info("/means"), c = r.info("/covariances"), w = r.info("/weights");
  require(m.shape.size() == 2 && m.shape[0] >= 1 && m.shape[1] >= 1, path, ": /means is ", m.describe(),
          " (expected K x D)");
  GMMParamsFit f;
  f.k = m.shape[0], f.d = m.shape[1];
  f.full = c.shape.size() == 3;
  const bool shapes = w.shape == std::vector<int64_t>{f.k} &&
                      (f.full ? c.shape == std::vector<int64_t>{f.k, f.d, f.d} : c.shape == std::vector<int64_t>{f.k, f.d});
  require(shapes, path, ": /covariances ", c.describe(), " and /weights ", w.describe(), " do not fit /means ",
          m.describe());
  f.means = r.read_all<double>("/means");
  f.covariances = r.read_all<double>("/covariances");
  f.weights = r.read_all<double>("/weights");
  require_finite_rows(f.means.data(), f.k, f.d, path + ": /means");
  require_finite_rows(f.covariances.data(), f.k, int64_t(f.covariances.size()) / f.k, path + ": /covariances");
  double total = 0;
  for (int64_t j = 0; j < f.k; ++j) {
    require(std::isfinite(f.weights[j]) && f.weights[j] >= 0, path, ": /weights[", j, "] = ", f.weights[j],
            ": a mixture weight must be a finite value >= 0");
    total += f.weights[j];
  }
  require(std::fabs(total - 1) < 1e-6, path, ": /weights sum to ", total, ", not 1");
  return f;
}

void gmm_predict(const FeatureBlock& b, const GMMParamsFit& m, const GMMRowOutput& out) {
  require(b.d == m.d, "gmm: rows of D=", b.d, " for a mixture of D=", m.d);
  gmm_e_step(b, make_density(m), nullptr, nullptr, &out);  // the outputs only: no statistics
}

}  // namespace distclust
