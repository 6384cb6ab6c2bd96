// assign's SCAN part: the run's kept head on new rows, computed as the run's
// final assignment computed it (scan_finish.cpp): rows normalised as SCAN
// normalised them, the head run over the valid rows in chunks of the same
// size, and, where the run self-labelled with the neighbour gate, the SCAN
// head's prediction restored for the moves the gate turns down.
#include <algorithm>

#include "assign/assign_parts.h"
#include "distclust/error.h"
#include "distclust/log.h"
#include "scan/scan_file.h"
#include "scan/scan_heads.h"

namespace distclust::assign {
namespace {

/// Probabilities of the rows `which` of x [local rows x D] into prob [local
/// rows x C] (predict_rows in scan_predict.cpp, on a FeatureBlock).
void predict(ScanHeads& h, const FeatureBlock& x, const std::vector<int64_t>& which, std::vector<float>& prob) {
  const int64_t chunk = 4096, D = x.d, C = h.shape().c;
  std::vector<float> xb, zb;
  for (size_t q0 = 0; q0 < which.size(); q0 += chunk) {
    const int64_t m = std::min<int64_t>(chunk, int64_t(which.size() - q0));
    xb.resize(size_t(m * D));
    zb.resize(size_t(m * C));
    for (int64_t q = 0; q < m; ++q) std::copy_n(x.x.data() + which[q0 + q] * D, D, xb.data() + q * D);
    h.forward(xb.data(), m, zb.data());
    softmax_heads(zb.data(), m, 1, C, zb.data());
    for (int64_t q = 0; q < m; ++q) std::copy_n(zb.data() + q * C, C, prob.data() + which[q0 + q] * C);
  }
}

std::vector<int64_t> argmax(const std::vector<float>& prob, const std::vector<int64_t>& rows, int64_t n, int64_t c) {
  std::vector<int64_t> a(size_t(n), -1);
  for (int64_t i : rows) a[i] = std::max_element(prob.data() + i * c, prob.data() + (i + 1) * c) - (prob.data() + i * c);
  return a;
}

}  // namespace

ScanOut apply_scan(const Inputs& in, const FeatureBlock& b, Communicator& comm) {
  const ScanModel m = read_scan_model(in.scan);
  require(m.shape.d == b.d, "assign: dimension mismatch: the new rows have D=", b.d, " but the head in ", in.scan,
          " takes D=", m.shape.d);
  FeatureBlock x = b;
  if (m.params.normalize) normalize_rows(x);
  const int64_t n = b.local_rows(), C = m.shape.c;
  std::vector<int64_t> valid_rows;
  for (int64_t i = 0; i < n; ++i)
    if (b.valid[i]) valid_rows.push_back(i);
  ScanHeads head(m.shape);
  head.params() = m.head;
  ScanOut o;
  o.c = C;
  o.prob.assign(size_t(n * C), 0.f);
  predict(head, x, valid_rows, o.prob);
  if (m.head_scan.empty()) return o;

  // The neighbour gate (scan_gate.h) on the rows self-labelling moved.
  ScanHeads pre(m.shape);
  pre.params() = m.head_scan;
  std::vector<float> prob_scan(size_t(n * C), 0.f);
  predict(pre, x, valid_rows, prob_scan);
  const std::vector<int64_t> before = argmax(prob_scan, valid_rows, n, C), after = argmax(o.prob, valid_rows, n, C);
  std::vector<int64_t> moved;
  for (int64_t i : valid_rows)
    if (before[i] != after[i]) moved.push_back(i);
  require(!in.knn.empty(), "assign: ", in.scan, " self-labelled with the neighbour gate, which needs the run's knn.h5: ",
          "pass --knn");
  const std::vector<uint8_t> keep = gate_new_rows(in, b, moved, before, after);
  std::vector<int64_t> back;
  for (size_t j = 0; j < moved.size(); ++j)
    if (!keep[j]) back.push_back(moved[j]);
  predict(pre, x, back, o.prob);  // as the run: only the turned-down rows, in one pass
  o.gate_proposed = comm.sum(int64_t(moved.size()));
  o.gate_kept = o.gate_proposed - comm.sum(int64_t(back.size()));
  if (comm.rank() == 0)
    log::info("assign: self-labelling moved ", o.gate_proposed, " new rows; the neighbour gate kept ", o.gate_kept);
  return o;
}

}  // namespace distclust::assign
