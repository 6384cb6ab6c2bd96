// assign's gmm part: the run's mixture (gmm.h5) applied to new rows with the
// E-step gmm() ran for its own rows, so the run's own rows get the run's
// /assign, /probabilities and /confidence exactly.
#include "assign/assign_parts.h"
#include "distclust/error.h"
#include "gmm/gmm_file.h"

namespace distclust::assign {

GMMOut apply_gmm(const std::string& gmm_h5, const FeatureBlock& b) {
  const GMMParamsFit m = read_gmm_model(gmm_h5);
  require(m.d == b.d, "assign: dimension mismatch: the new rows have D=", b.d, " but the mixture in ", gmm_h5,
          " has D=", m.d);
  GMMOut o;
  o.k = m.k;
  const int64_t n = b.local_rows();
  o.prob.assign(size_t(n * m.k), 0.f);
  o.assign.assign(size_t(n), -1);
  o.confidence.assign(size_t(n), 0.f);
  gmm_predict(b, m, GMMRowOutput{o.prob.data(), o.assign.data(), o.confidence.data()});
  return o;
}

}  // namespace distclust::assign
