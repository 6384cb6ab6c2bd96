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

/// Whether identities a and b may name the same features. Two config
/// hashes must be equal. A file distclust did not write is known by
/// "size S mtime T" (io/output_identity.h), and a plain copy or an h5py
/// edit changes its mtime but not its rows: only the sizes are compared.
bool may_match(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty()) return false;
  auto foreign_size = [](const std::string& id) {
    return id.rfind("size ", 0) == 0 ? id.substr(0, id.find(" mtime ")) : std::string();
  };
  const std::string sa = foreign_size(a), sb = foreign_size(b);
  return a == b || (!sa.empty() && sa == sb);
}

}  // namespace

RowsIdentity rows_identity(const std::string& features, Communicator& comm) {
  RowsIdentity id;
  if (comm.rank() == 0) {
    id.features = file_identity(features);
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

void require_same_rows(const std::string& pred, const std::string& features, const std::string& who) {
  const RowsIdentity made = recorded(pred);
  if (made.features.empty()) return;
  const std::string now = file_identity(features), embeds = recorded(features).source;
  // Same features; or an embedding of them on either side (same rows).
  const bool same = may_match(now, made.features) || may_match(now, made.source) || may_match(embeds, made.features);
  require(same, who, ": ", pred, " was made from features ", made.features,
          made.source.empty() ? std::string() : " (an embedding of " + made.source + ")", " but ", features, " is ",
          now, ": the files do not belong together (their rows are other images)");
}

}  // namespace distclust
