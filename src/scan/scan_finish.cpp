// The end of a SCAN run: every valid row's probabilities from the kept head
// (with the neighbour gate on self-labelling's moves), assignment and
// confidence, cluster sizes and the collapse check, and prototypes.
#include <algorithm>

#include "distclust/log.h"
#include "scan/scan_gate.h"
#include "scan/scan_run.h"

namespace distclust {
namespace {

/// Keeps only the self-labelling moves the row's neighbours support; rows
/// whose move is turned down get the SCAN head's prediction back in prob.
void gate_moves(ScanRun& r, const ScanHeads& one, std::vector<float>& prob) {
  ScanResult& res = r.res;
  ScanData& s = r.data;
  std::vector<uint8_t> keep;
  const GateCounts gc = neighbour_gate(res.assign_scan, argmax_rows(s, prob, r.p.clusters), s.my_rows,
                                       NeighbourLists{s.nbr, s.nbr_count, s.kuse}, s.rows, r.comm, keep);
  std::vector<int64_t> back;
  for (int64_t i : s.my_rows)
    if (!keep[i]) back.push_back(i);
  // The SCAN head's pass over every row, as self-labelling and a run
  // without it make it, not over `back` alone: a GEMM may round a row by its
  // position in the block (OpenBLAS' Prescott kernels do), and a turned-down
  // row then carried other probabilities than the SCAN head gives it.
  // Recomputed rather than kept from self-labelling's identical pass: that
  // would hold a second [rows x C] through every self-labelling epoch.
  ScanHeads pre = one;
  pre.params() = r.st.scan_head;
  std::vector<float> scan_prob;
  predict_all(*heads_compute(pre, r.comm, &r.data.rows), s, scan_prob);
  const int64_t C = r.p.clusters;
  for (int64_t i : back) std::copy_n(scan_prob.data() + i * C, C, prob.data() + i * C);
  res.self_label_proposed = gc.proposed;
  res.self_label_rejected = gc.proposed - gc.kept;
  if (res.self_labelled) res.self_label_note += fmt("; neighbour gate kept ", gc.kept, " of ", gc.proposed, " moves");
  log::info("scan: self-labelling proposed ", gc.proposed, " moves; neighbour gate kept ", gc.kept,
            " (new cluster at least as common among the row's neighbours' SCAN clusters as the old), turned down ",
            gc.proposed - gc.kept);
}

/// More than half the rows in one cluster (with C = 2 half is the balanced
/// size, so there the bar is three quarters), or empty clusters.
void check_collapse(ScanRun& r) {
  ScanResult& res = r.res;
  const std::vector<int64_t>& sizes = res.cluster_sizes;
  const int64_t C = r.p.clusters, n_valid = r.data.n_valid;
  const int64_t biggest = *std::max_element(sizes.begin(), sizes.end());
  const int64_t empty = std::count(sizes.begin(), sizes.end(), int64_t(0));
  const int64_t at = std::max_element(sizes.begin(), sizes.end()) - sizes.begin();
  std::string why;
  const double limit = C == 2 ? 0.75 : 0.5;
  if (double(biggest) > limit * double(n_valid))
    why = fmt("cluster ", at, " holds ", biggest, " of ", n_valid, " rows (", 100.0 * double(biggest) / double(n_valid),
              "% > ", 100 * limit, "%)");
  if (empty > 0) why += fmt(why.empty() ? "" : "; ", empty, " of ", C, " clusters are empty");
  res.collapse = !why.empty();
  res.collapse_note = why;
  auto [mn, mx] = std::minmax_element(sizes.begin(), sizes.end());
  log::info("scan: cluster sizes ", *mn, "..", *mx, " (", C, " clusters, ", n_valid, " rows)");
  if (res.collapse && r.comm.rank() == 0) {
    const std::string bar(72, '!');
    log::warn("scan: ", bar);
    log::warn("scan: COLLAPSE: the kept head ", res.kept_head, " degenerated: ", why, ".");
    log::warn("scan: The clustering is not usable as it is: raise --entropy-weight (now ", r.p.entropy_weight,
              "), lower --lr, or check the features and the kNN graph.");
    log::warn("scan: ", bar);
  }
}

}  // namespace

void final_assignment(ScanRun& r, ScanHeads& one) {
  const ScanParams& p = r.p;
  ScanResult& res = r.res;
  const ScanData& s = r.data;
  const int64_t C = p.clusters;
  const bool sl_asked = p.self_label && p.self_label_epochs > 0;
  std::vector<float> prob;
  predict_all(*heads_compute(one, r.comm, &r.data.rows), s, prob);
  if (sl_asked && p.self_label_gate) gate_moves(r, one, prob);
  res.probabilities = std::move(prob);
  res.assign.assign(size_t(s.local_rows()), -1);
  res.confidence.assign(size_t(s.local_rows()), 0.f);
  std::vector<int64_t> sizes(size_t(C), 0);
  int64_t moved = 0;
  double conf_sum = 0;
  for (int64_t i : s.my_rows) {
    const float* pi = res.probabilities.data() + i * C;
    const int64_t a = std::max_element(pi, pi + C) - pi;
    res.assign[i] = a;
    res.confidence[i] = pi[a];
    conf_sum += pi[a];
    ++sizes[a];
    if (sl_asked) moved += res.assign_scan[i] != a;
  }
  r.comm.allreduce_sum(sizes.data(), sizes.size());
  res.mean_confidence = r.comm.sum(conf_sum) / double(std::max<int64_t>(1, s.n_valid));
  if (sl_asked) {
    moved = r.comm.sum(moved);
    res.self_label_moved = moved;
    if (!p.self_label_gate) res.self_label_proposed = moved;
    log::info("scan: self-labelling moved ", moved, " of ", s.n_valid, " rows (",
              100.0 * double(moved) / double(s.n_valid), "%) to another cluster");
  }
  res.cluster_sizes = sizes;
  check_collapse(r);
}

void pick_prototypes(ScanRun& r) {
  const int64_t C = r.p.clusters, PR = r.p.prototypes;
  ScanResult& res = r.res;
  res.prototypes.assign(size_t(C * PR), -1);
  if (PR <= 0) return;
  struct Cand {
    int64_t row, cluster;
    float conf;
    float pad = 0;
  };
  auto better = [](const Cand& a, const Cand& b) {
    if (a.cluster != b.cluster) return a.cluster < b.cluster;
    if (a.conf != b.conf) return a.conf > b.conf;
    return a.row < b.row;
  };
  // The PR best of each cluster: of this rank's rows, then of all ranks' picks.
  auto top = [&](std::vector<Cand>& v) {
    std::sort(v.begin(), v.end(), better);
    std::vector<Cand> out;
    for (size_t i = 0; i < v.size(); ++i) {
      size_t j = i;
      while (j < v.size() && v[j].cluster == v[i].cluster && int64_t(j - i) < PR) out.push_back(v[j++]);
      while (i + 1 < v.size() && v[i + 1].cluster == v[i].cluster) ++i;
    }
    v.swap(out);
  };
  std::vector<Cand> mine;
  for (int64_t i : r.data.my_rows) mine.push_back({r.data.own.begin + i, res.assign[i], res.confidence[i]});
  top(mine);
  std::vector<Cand> all = r.comm.allgather(mine);
  top(all);
  std::vector<int64_t> fill(size_t(C), 0);
  for (const Cand& c : all) res.prototypes[c.cluster * PR + fill[c.cluster]++] = c.row;
}

}  // namespace distclust
