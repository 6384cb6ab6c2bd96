// The PCA datasets of features.h5 (pca_file.h).
#include "extract/pca_file.h"

#include "distclust/error.h"
#include "io/h5store.h"

namespace distclust {

void write_projection(extract::FeatureOutput& out, const Projection& p) {
  out.write_small("/pca_mean", {p.in_dim}, p.mean.data());
  out.write_small("/pca_components", {p.out_dim, p.in_dim}, p.components.data());
  out.write_small("/pca_variances", {p.out_dim}, p.variances.data());
  if (!p.scales.empty()) out.write_small("/pca_whiten_scales", {p.out_dim}, p.scales.data());
  out.attr("pca_normalize_input", int64_t(p.normalize_input ? 1 : 0));
  out.attr("pca_sample_rows", p.sample_rows);
  out.attr("pca_total_variance", p.total_variance);
}

Projection read_projection(const std::string& path, Communicator& comm) {
  check_input_file(path, "extract.pca_from");
  H5Reader r(path, comm);
  require(r.has("/pca_components") && r.has("/pca_mean"), "extract.pca_from: ", path,
          " holds no PCA projection (/pca_components, /pca_mean): it was extracted without extract.pca_dim");
  const DatasetInfo c = r.info("/pca_components"), m = r.info("/pca_mean");
  require(c.shape.size() == 2 && m.shape.size() == 1 && m.shape[0] == c.shape[1] && c.shape[0] >= 1, "extract.pca_from: ",
          path, ": /pca_components is ", c.describe(), " and /pca_mean ", m.describe(),
          " (expected d x D_in and D_in)");
  Projection p;
  p.out_dim = c.shape[0];
  p.in_dim = c.shape[1];
  p.components = r.read_all<double>("/pca_components");
  p.mean = r.read_all<double>("/pca_mean");
  if (r.has("/pca_variances")) p.variances = r.read_all<double>("/pca_variances");
  if (r.has("/pca_whiten_scales")) p.scales = r.read_all<double>("/pca_whiten_scales");
  require(p.scales.empty() || int64_t(p.scales.size()) == p.out_dim, "extract.pca_from: ", path,
          ": /pca_whiten_scales has ", p.scales.size(), " values for ", p.out_dim, " components");
  p.normalize_input = r.has_attr("pca_normalize_input") && r.attr_double("pca_normalize_input") != 0;
  if (r.has_attr("pca_total_variance")) p.total_variance = r.attr_double("pca_total_variance");
  p.from = path;
  return p;
}

}  // namespace distclust
