#include "comm/local_comm.h"
#include "io/h5store.h"
#include "io/output_identity.h"
#include "io/finite.h"
#include "io/rows_identity.h"

#include "core/json.h"
#include "distclust/config.h"
#include "distclust/error.h"
#include "scan/scan_file.h"

namespace distclust {

void write_scan(const std::string& path, Communicator& comm, const ScanResult& r, const ScanParams& p,
                const ScanInputs& in, const std::string& params_yaml, const std::string& params_hash) {
  const int64_t C = r.clusters, H = p.heads;
  H5Writer w(path, comm);
  w.create<float>("/probabilities", {r.n_total, C});
  w.write_rows("/probabilities", r.rows, r.probabilities.data());
  w.create<int64_t>("/assign", {r.n_total});
  w.write_rows("/assign", r.rows, r.assign.data());
  w.create<float>("/confidence", {r.n_total});
  w.write_rows("/confidence", r.rows, r.confidence.data());
  // Same on every rank (self-labelling asked for or not), as collective calls need.
  if (p.self_label && p.self_label_epochs > 0) {
    w.create<int64_t>("/assign_scan", {r.n_total});
    w.write_rows("/assign_scan", r.rows, r.assign_scan.data());
    w.attr("self_label_moved", r.self_label_moved);
    w.attr("self_label_proposed", r.self_label_proposed);
    w.attr("self_label_rejected", r.self_label_rejected);
  }
  const int64_t epochs = H > 0 ? int64_t(r.loss.size()) / H : 0;
  w.write_all<double>("/loss", {epochs, H}, r.loss.data());
  w.write_all<double>("/consistency", {epochs, H}, r.consistency.data());
  w.write_all<double>("/entropy", {epochs, H}, r.entropy.data());
  w.write_vector("/self_label_loss", r.self_label_loss);
  w.write_vector("/self_label_confident", r.self_label_confident);
  w.write_all<int64_t>("/cluster_sizes", {C}, r.cluster_sizes.data());
  w.write_all<int64_t>("/prototypes", {C, int64_t(p.prototypes)}, r.prototypes.data());
  // The kept head, so that `distclust assign` can apply it to new rows.
  w.write_vector("/head", r.head);
  if (!r.head_scan.empty()) w.write_vector("/head_scan", r.head_scan);
  w.attr("head_d", r.d);
  w.attr("head_hidden", int64_t(p.head == "mlp" ? p.hidden : 0));
  w.attr("created_by", std::string("distclust ") + DISTCLUST_VERSION);
  w.attr("stage", std::string("scan"));
  w.attr("chosen_head", int64_t(r.kept_head));
  w.attr("clusters", C);
  w.attr("heads", H);
  w.attr("head", p.head);
  w.attr("collapse", int64_t(r.collapse ? 1 : 0));
  w.attr("collapse_note", r.collapse_note);
  // The health checks (scan_health.h): a JSON list of sentences, [] when healthy.
  w.attr("warnings", json::string_list(r.warnings));
  w.attr("epochs_run", r.epochs_run);
  w.attr("steps_per_epoch", r.steps_per_epoch);
  w.attr("steps", r.steps);
  w.attr("mean_confidence", r.mean_confidence);
  w.attr("self_label", r.self_label_note);
  w.attr("neighbour_features", r.neighbour_mode);
  w.attr("valid_rows", r.n_valid);
  w.attr("rows_without_neighbour", r.rows_no_neighbour);
  w.attr("features", p.features);
  w.attr("knn", p.knn);
  write_rows_identity(w, rows_identity(p.features, comm));  // collective, as the writer
  w.attr("knn_config_hash", in.knn_hash);
  w.attr("params", params_yaml);
  w.attr("config_hash", params_hash);
  w.commit();
}

std::vector<std::string> read_scan_warnings(const std::string& path) {
  LocalCommunicator self;
  H5Reader r(path, self);
  std::vector<std::string> out;
  if (!r.has_attr("warnings")) return out;
  const json::Value v = json::parse(r.attr_string("warnings"), path + ": warnings");
  require(v.type == json::Value::Type::array, path, ": attribute warnings is not a JSON list");
  for (const json::Value& x : v.arr)
    if (x.type == json::Value::Type::string) out.push_back(x.str);
  return out;
}

ScanModel read_scan_model(const std::string& path) {
  LocalCommunicator self;
  H5Reader r(path, self);
  ScanModel m;
  m.path = path;
  stored_params(r).apply_yaml("scan", m.params);
  require(r.has("/head"), path, ": no /head (written by a distclust before heads were saved: rerun `distclust scan` ",
          "to assign new rows with it)");
  std::vector<float> head = r.read_all<float>("/head");
  m.shape = HeadShape{m.params.head, int64_t(r.attr_double("head_d")), m.params.clusters, m.params.hidden, 1};
  m.head = std::move(head);
  if (r.has("/head_scan")) m.head_scan = r.read_all<float>("/head_scan");
  const size_t want = ScanHeads(m.shape).num_params();
  require(m.head.size() == want && (m.head_scan.empty() || m.head_scan.size() == want), path, ": /head holds ",
          m.head.size(), " values but a ", m.shape.kind, " head ", m.shape.d, " -> ", m.shape.c, " has ", want);
  require_finite_rows(m.head.data(), 1, int64_t(m.head.size()), path + ": /head");
  if (!m.head_scan.empty()) require_finite_rows(m.head_scan.data(), 1, int64_t(m.head_scan.size()), path + ": /head_scan");
  return m;
}

}  // namespace distclust
