// The PCA datasets of features.h5 (pca_file.h).
#include "extract/pca_file.h"

#include <sys/stat.h>

#include <algorithm>

#include "comm/local_comm.h"
#include "distclust/error.h"
#include "distclust/log.h"
#include "io/h5store.h"
#include "io/state_checksum.h"

namespace distclust {

namespace {

/// The checksum of what a projection applies (io/state_checksum.h): HDF5
/// checks no dataset bytes, and a resume or extract.pca_from would project
/// every row with changed components without a word.
std::string projection_checksum(const Projection& p) {
  StateChecksum s;
  s.add("pca_mean", p.mean);
  s.add("pca_components", p.components);
  s.add("pca_variances", p.variances);
  s.add("pca_whiten_scales", p.scales);
  s.add("pca_normalize_input", int64_t(p.normalize_input ? 1 : 0));
  s.add("pca_total_variance", p.total_variance);
  return s.hex();
}

}  // namespace

void write_projection(extract::FeatureOutput& out, const Projection& p) {
  out.write_small("/pca_mean", {p.in_dim}, p.mean.data());
  out.write_small("/pca_components", {p.out_dim, p.in_dim}, p.components.data());
  out.write_small("/pca_variances", {p.out_dim}, p.variances.data());
  if (!p.scales.empty()) out.write_small("/pca_whiten_scales", {p.out_dim}, p.scales.data());
  out.attr("pca_normalize_input", int64_t(p.normalize_input ? 1 : 0));
  out.attr("pca_sample_rows", p.sample_rows);
  out.attr("pca_total_variance", p.total_variance);
  out.attr("pca_checksum", projection_checksum(p));
}

Projection read_projection(const std::string& path, Communicator& comm, const std::string& what) {
  check_input_file(path, what);
  H5Reader r(path, comm);
  require(r.has("/pca_components") && r.has("/pca_mean"), what, ": ", path,
          " holds no PCA projection (/pca_components, /pca_mean): it was extracted without extract.pca_dim");
  const DatasetInfo c = r.info("/pca_components"), m = r.info("/pca_mean");
  require(c.shape.size() == 2 && m.shape.size() == 1 && m.shape[0] == c.shape[1] && c.shape[0] >= 1, what, ": ",
          path, ": /pca_components is ", c.describe(), " and /pca_mean ", m.describe(),
          " (expected d x D_in and D_in)");
  Projection p;
  p.out_dim = c.shape[0];
  p.in_dim = c.shape[1];
  p.components = r.read_all<double>("/pca_components");
  p.mean = r.read_all<double>("/pca_mean");
  if (r.has("/pca_variances")) p.variances = r.read_all<double>("/pca_variances");
  if (r.has("/pca_whiten_scales")) p.scales = r.read_all<double>("/pca_whiten_scales");
  require(p.scales.empty() || int64_t(p.scales.size()) == p.out_dim, what, ": ", path,
          ": /pca_whiten_scales has ", p.scales.size(), " values for ", p.out_dim, " components");
  p.normalize_input = r.has_attr("pca_normalize_input") && r.attr_double("pca_normalize_input") != 0;
  if (r.has_attr("pca_total_variance")) p.total_variance = r.attr_double("pca_total_variance");
  // Files written before the checksum have none: read as they are.
  if (r.has_attr("pca_checksum")) {
    const std::string want = r.attr_string("pca_checksum"), got = projection_checksum(p);
    require(want == got, what, ": ", path, ": the PCA's checksum does not match (the file says ", want,
            ", its /pca_* data hash to ", got, "): its bytes changed after it was written");
  }
  p.from = path;
  return p;
}

namespace {

/// Rank 0's look at OUT.tmp (read_resumable_projection).
ResumablePca read_resumable_here(const std::string& tmp, const std::string& hash, Projection& proj) {
  struct stat st {};
  if (stat(tmp.c_str(), &st) != 0) return ResumablePca::none;
  try {
    LocalCommunicator self;
    {
      H5Reader r(tmp, self);
      if (!r.has_attr("config_hash") || r.attr_string("config_hash") != hash) return ResumablePca::none;
      // No /done but invalid_rows: stopped in its commit, every row done (extract_output.h).
      const bool complete = !r.has("/done") && r.has_attr("invalid_rows");
      if (!complete) {
        if (!r.has("/done")) return ResumablePca::none;
        const std::vector<uint8_t> done = r.read_all<uint8_t>("/done");
        if (std::find(done.begin(), done.end(), uint8_t(1)) == done.end()) return ResumablePca::none;
      }
      // Rows of these settings without their PCA: lost (read_projection names it).
    }
    Projection p = read_projection(tmp, self, "resuming");
    H5Reader r(tmp, self);
    if (r.has_attr("pca_sample_rows")) p.sample_rows = int64_t(r.attr_double("pca_sample_rows"));
    p.from.clear();  // fitted by this job's settings, as the resumed rows' was
    proj = std::move(p);
    return ResumablePca::taken;
  } catch (const Error& e) {
    log::warn("extract: ", e.what(), "; fitting the PCA again, and extracting its rows again with it");
    return ResumablePca::refused;
  }
}

}  // namespace

ResumablePca read_resumable_projection(const std::string& out, const std::string& hash, Communicator& comm,
                                       Projection& proj) {
  Projection p;
  int64_t found = comm.rank() == 0 ? int64_t(read_resumable_here(out + ".tmp", hash, p)) : 0;
  comm.broadcast(&found, sizeof(found), 0);
  if (ResumablePca(found) != ResumablePca::taken) return ResumablePca(found);
  int64_t ints[4] = {p.in_dim, p.out_dim, p.sample_rows, p.normalize_input ? 1 : 0};
  comm.broadcast(ints, sizeof(ints), 0);
  p.in_dim = ints[0], p.out_dim = ints[1], p.sample_rows = ints[2], p.normalize_input = ints[3] != 0;
  comm.broadcast(&p.total_variance, sizeof(p.total_variance), 0);
  for (std::vector<double>* v : {&p.mean, &p.components, &p.variances, &p.scales}) comm.broadcast(*v, 0);
  proj = std::move(p);
  return ResumablePca::taken;
}

}  // namespace distclust
