#include "report/clustering.h"

#include <cstdio>
#include <algorithm>
#include <cmath>
#include <filesystem>

#include "comm/local_comm.h"
#include "distclust/error.h"
#include "eval/metrics.h"
#include "io/h5store.h"
#include "io/output_identity.h"
#include "io/row_columns.h"
#include "distclust/config.h"
#include "kmeans/kmeans.h"
#include "kmeans/kmeans_confidence.h"
#include "io/h5_strings.h"
#include "io/rows_identity.h"
#include "distclust/config.h"
#include "extract/extract.h"
#include "comm/root.h"

namespace fs = std::filesystem;

namespace distclust::report {

std::string kmeans_rows_file(const std::string& features, const std::string& kmeans) {
  // k-means may have clustered other rows than the ones shown: a run that
  // embeds before kmeans clusters embed.h5 while report and export show
  // features.h5 (the same N rows, ids and labels). The margin needs the rows
  // k-means saw: its own `features`, when its centroids' D differs from
  // these features' and that file has the same rows.
  LocalCommunicator self;
  H5Reader k(kmeans, self), f(features, self);
  if (!k.has("/centroids") || !k.has_attr("params")) return features;
  const DatasetInfo c = k.info("/centroids"), x = f.info("/features");
  if (c.shape.size() != 2 || x.shape.size() != 2 || c.shape[1] == x.shape[1]) return features;
  KMeansParams kp;
  stored_params(k).apply_yaml("kmeans", kp);
  if (kp.features.empty() || kp.features == features || !std::filesystem::exists(kp.features)) return features;
  const DatasetInfo o = H5Reader(kp.features, self).info("/features");
  return o.shape.size() == 2 && o.shape[0] == x.shape[0] && o.shape[1] == c.shape[1] ? kp.features : features;
}

std::string cluster_folder_name(int64_t c) {
  char b[40];
  std::snprintf(b, sizeof(b), "cluster_%04lld", static_cast<long long>(c));
  return b;
}

std::string Clustering::class_name(int64_t cls) const {
  if (cls >= 0 && cls < int64_t(class_names.size()) && !class_names[cls].empty()) return class_names[cls];
  return "class " + std::to_string(cls);
}

std::string resolve_image_path(const std::string& path, const std::string& image_root) {
  if (path.empty() || image_root.empty() || fs::path(path).is_absolute()) return path;
  return (fs::path(image_root) / path).string();
}

bool is_array_row_id(const std::string& id) {
  size_t colon = id.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == id.size()) return false;
  for (size_t i = colon + 1; i < id.size(); ++i)
    if (id[i] < '0' || id[i] > '9') return false;
  std::error_code ec;
  return !fs::exists(id, ec) && fs::is_regular_file(id.substr(0, colon), ec);
}

namespace {

// What every rank needs to know before the collective part.
struct Header {
  int64_t n = 0;
  int64_t kind = 0;
};

Header inspect(const std::string& features, const std::string& pred, const std::string& who) {
  check_input_file(features, "features file");
  check_input_file(pred, "predictions file");
  LocalCommunicator self;
  H5Reader fr(features, self), pr(pred, self);
  DatasetInfo fi = fr.info("/features");
  require(fi.shape.size() == 2, features, ": /features is ", fi.describe(), " (expected rows x dimensions)");
  require(pr.has("/assign"), pred, ": no /assign dataset: expected a kmeans.h5 or scan.h5 file");
  DatasetInfo ai = pr.info("/assign");
  require(ai.shape.size() == 1, pred, ": /assign is ", ai.describe(), ": expected one cluster number per row, [",
          fi.shape[0], "]");
  require(ai.shape[0] == fi.shape[0], features, ": /features has ", fi.shape[0], " rows but ", pred, ": /assign is ",
          ai.describe(), " (the files come from different runs?)");
  require(ai.integer(), pred, ": /assign is ", ai.describe(), ": expected integer cluster numbers");
  require_same_rows(pred, features, who);  // same row count is not same rows (io/rows_identity.h)
  Header h;
  h.n = fi.shape[0];
  if (pr.has("/confidence"))
    h.kind = int64_t(PredKind::scan);
  else if (pr.has("/centroids"))
    h.kind = int64_t(PredKind::kmeans);
  else if (pr.has("/probabilities"))
    h.kind = int64_t(PredKind::probs);
  else
    h.kind = int64_t(PredKind::plain);
  for (const char* name : {"/confidence", "/probabilities"}) {
    if (!pr.has(name)) continue;
    DatasetInfo di = pr.info(name);
    require(!di.shape.empty() && di.shape[0] == h.n, pred, ": ", name, " is ", di.describe(), " but there are ", h.n,
            " rows");
    const bool probs = std::string(name) == "/probabilities";
    require(probs ? di.shape.size() == 2 && di.shape[1] >= 1 : di.shape.size() == 1, pred, ": ", name, " is ",
            di.describe(), probs ? ": expected rows x clusters with at least one cluster" : ": expected one value per row");
  }
  return h;
}

std::vector<float> row_max(const H5Reader& r, const std::string& ds, int64_t n) {
  DatasetInfo di = r.info(ds);
  int64_t c = di.shape.size() == 2 ? di.shape[1] : 1;
  std::vector<float> out(static_cast<size_t>(n));
  const int64_t piece = std::max<int64_t>(1, (int64_t(1) << 24) / std::max<int64_t>(c, 1));
  for (int64_t b = 0; b < n; b += piece) {
    RowRange rr{b, std::min(n, b + piece)};
    std::vector<float> p = r.read_rows<float>(ds, rr);
    for (int64_t i = 0; i < rr.size(); ++i) out[b + i] = *std::max_element(p.begin() + i * c, p.begin() + (i + 1) * c);
  }
  return out;
}

void read_on_root(Clustering& cl) {
  LocalCommunicator self;
  H5Reader fr(cl.features, self), pr(cl.pred, self);
  cl.assign = pr.read_all<int64_t>("/assign");
  require_codes(cl.assign, cl.pred + ": /assign", kClusterRule);  // as eval: not dropped as invalid rows
  std::vector<uint8_t> valid;
  if (fr.has("/valid")) valid = read_valid(fr, RowRange{0, cl.n}, cl.n);
  int64_t max_assign = -1;
  for (int64_t i = 0; i < cl.n; ++i) {
    if (cl.assign[i] < 0 || (!valid.empty() && valid[i] == 0)) {
      cl.assign[i] = -1;
      ++cl.invalid;
    }
    max_assign = std::max(max_assign, cl.assign[i]);
  }
  const int64_t declared = declared_clusters(pr);
  // A file that declares its clusters assigns rows to those only (as eval).
  // One that does not (another tool's /assign alone): per-cluster tables are
  // sized by the largest id, and one far above the row count (5e8 in 1,000
  // rows) would allocate gigabytes for empty clusters.
  if (declared > 0)
    require(max_assign < declared, cl.pred, ": /assign holds cluster ", max_assign, " but the file declares ", declared,
            " clusters");
  else
    require(max_assign < cl.n, cl.pred, ": /assign holds cluster ", max_assign, " but there are ", cl.n,
            " rows: a cluster number must be below the row count or the declared cluster count");
  cl.k = std::max(max_assign + 1, declared);
  switch (cl.kind) {
    case PredKind::scan:
      cl.confidence = pr.read_all<float>("/confidence");
      cl.confidence_def = "the predictions file's /confidence (SCAN, GMM: the probability of the assigned cluster)";
      break;
    case PredKind::kmeans:
      cl.confidence_def = kMarginDefinition;
      break;
    case PredKind::probs:
      cl.confidence = row_max(pr, "/probabilities", cl.n);
      cl.confidence_def = "the largest probability of the row in /probabilities";
      break;
    case PredKind::plain:
      cl.confidence_def = "none (the predictions file has no /confidence or /centroids)";
      break;
  }
  if (pr.has("/prototypes")) {
    DatasetInfo di = pr.info("/prototypes");
    if (di.shape.size() == 2 && di.shape[1] > 0) {
      cl.prototypes = pr.read_all<int64_t>("/prototypes");
      cl.prototypes_per = di.shape[1];
      cl.k = std::max(cl.k, di.shape[0]);
    }
  }
  if (fr.has("/labels")) {
    cl.labels = read_labels(fr, RowRange{0, cl.n}, cl.n);
    require_codes(cl.labels, cl.features + ": /labels", kLabelRule);
    if (std::none_of(cl.labels.begin(), cl.labels.end(), [](int64_t v) { return v >= 0; })) cl.labels.clear();
  }
  H5Strings fs5(cl.features);
  cl.has_paths = fs5.row_strings("/ids", cl.n);
  cl.class_names = fs5.name_list("/", "class_names");
  if (cl.class_names.empty()) cl.class_names = fs5.name_list("/labels", "class_names");
}

}  // namespace

std::string image_folder_of(const std::string& features) {
  try {
    LocalCommunicator self;
    H5Reader r(features, self);
    if (!r.has_attr("params")) return "";  // not written by extract
    ExtractParams ep;
    stored_params(r).apply_yaml("extract", ep);
    namespace fs = std::filesystem;
    const fs::path src = fs::path(ep.source).lexically_normal();
    std::error_code ec;
    if (src.is_absolute()) return fs::is_directory(src, ec) ? src.string() : "";
    // As given to extract, relative to where it ran: found as the ancestor
    // of the first image's absolute path (/ids) that ends in those names.
    std::vector<std::string> tail;
    for (const auto& part : src)
      if (part != "." && part != ".." && !part.empty()) tail.push_back(part.string());
    if (tail.empty()) return "";  // "." or "..": which ancestor is not known
    H5Strings ids(features);
    if (!ids.is_strings("/ids")) return "";
    for (fs::path p = fs::path(ids.read("/ids", {0}).at(0)).parent_path(); !p.empty() && p != p.root_path();
         p = p.parent_path()) {
      fs::path q = p;
      bool match = true;
      for (auto t = tail.rbegin(); t != tail.rend() && match; ++t, q = q.parent_path()) match = q.filename() == *t;
      if (match) return fs::is_directory(p, ec) ? p.string() : "";
    }
    return "";
  } catch (const Error&) {
    return "";  // the features' own read names the problem
  }
}

Clustering load_clustering(const std::string& features, const std::string& pred, Communicator& comm,
                           const std::string& who) {
  Clustering cl;
  cl.features = features;
  cl.pred = pred;
  Header h;
  run_on_root(comm, "reading the inputs", [&] {
    h = inspect(features, pred, who);
  });
  comm.broadcast(&h, sizeof(h), 0);
  cl.n = h.n;
  cl.kind = static_cast<PredKind>(h.kind);
  std::vector<float> margin;
  if (cl.kind == PredKind::kmeans) margin = kmeans_margin_confidence(kmeans_rows_file(features, pred), pred, comm);
  run_on_root(comm, "reading the inputs", [&] {
    read_on_root(cl);
    if (cl.kind == PredKind::kmeans) {
      cl.confidence = std::move(margin);
      for (int64_t i = 0; i < cl.n; ++i)
        if (cl.assign[i] < 0) cl.confidence[i] = 0.f;
    }
  });
  comm.broadcast(&cl.k, sizeof(cl.k), 0);
  return cl;
}

std::vector<std::string> image_paths(const std::string& features, const std::vector<int64_t>& rows) {
  H5Strings s(features);
  if (!s.is_strings("/ids")) return std::vector<std::string>(rows.size());
  return s.read("/ids", rows);
}

}  // namespace distclust::report
