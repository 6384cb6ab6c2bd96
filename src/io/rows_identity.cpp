#include "io/rows_identity.h"

#include "comm/local_comm.h"
#include "distclust/error.h"
#include "io/h5store.h"
#include "io/output_identity.h"

namespace distclust {
namespace {

constexpr const char* kFeatures = "features_config_hash";
constexpr const char* kSource = "source_features_config_hash";

/// The identities `path` records (pred: of its features; an embedding: of
/// its source), "" where absent or unreadable.
RowsIdentity recorded(const std::string& path) {
  RowsIdentity id;
  try {
    LocalCommunicator self;
    H5Reader r(path, self);
    if (r.has_attr(kFeatures)) id.features = r.attr_string(kFeatures);
    if (r.has_attr(kSource)) id.source = r.attr_string(kSource);
  } catch (const Error&) {
    // Not HDF5 or unreadable: the caller's own read names the problem.
  }
  return id;
}

/// The rows' identity of a features file: its config_hash; for a file
/// distclust did not write, the shape of its /features (its size and
/// mtime, file_identity's answer, change with a copy or an h5py edit that
/// leaves the rows alone); "" when it has neither.
std::string identity_of(const std::string& path) {
  const std::string h = output_config_hash(path);
  if (!h.empty()) return h;
  try {
    LocalCommunicator self;
    H5Reader r(path, self);
    if (!r.has("/features")) return "";
    const DatasetInfo fi = r.info("/features");
    std::string shape;
    for (int64_t s : fi.shape) shape += (shape.empty() ? "" : " x ") + std::to_string(s);
    return "a file distclust did not write, /features " + shape;
  } catch (const Error&) {
    return "";
  }
}

}  // namespace

RowsIdentity rows_identity(const std::string& features, Communicator& comm) {
  RowsIdentity id;
  if (comm.rank() == 0) {
    id.features = identity_of(features);
    id.source = recorded(features).source;
  }
  comm.broadcast(id.features, 0);
  comm.broadcast(id.source, 0);
  return id;
}

void write_rows_identity(H5Writer& w, const RowsIdentity& id) {
  if (!id.features.empty()) w.attr(kFeatures, id.features);
  if (!id.source.empty()) w.attr(kSource, id.source);
}

void require_same_rows(const std::string& pred, const std::string& features, const std::string& who,
                       const std::string& why) {
  const RowsIdentity made = recorded(pred);
  if (made.features.empty()) return;
  const std::string now = identity_of(features), embeds = recorded(features).source;
  if (now.empty()) return;  // no /features and no hash: nothing to compare (a labels-only file)
  // Same features; or an embedding of them on either side (same rows).
  const bool same = now == made.features || now == made.source || (!embeds.empty() && embeds == made.features);
  require(same, who, ": ", pred, " was made from features ", made.features,
          made.source.empty() ? std::string() : " (an embedding of " + made.source + ")", " but ", features, " is ",
          now, ": the files do not belong together (", why, ")");
}

}  // namespace distclust
