// The kept head applied to this rank's rows, in chunks (bounded memory).
#include <algorithm>

#include "scan/scan_run.h"

namespace distclust {
void predict_all(HeadsCompute& h, const ScanData& data, std::vector<float>& prob) {
  const int64_t chunk = 4096, C = h.shape().c;
  const std::vector<int64_t>& rows = data.my_rows;
  prob.assign(size_t(data.local_rows() * C), 0.f);
  std::vector<float> xb, zb;
  std::vector<int64_t> g;
  for (size_t q0 = 0; q0 < rows.size(); q0 += chunk) {
    const int64_t m = std::min<int64_t>(chunk, int64_t(rows.size() - q0));
    zb.resize(size_t(m * C));
    g.resize(size_t(m));
    for (int64_t q = 0; q < m; ++q) g[q] = data.own.begin + rows[q0 + q];
    forward_global_rows(h, data.rows, g, xb, zb.data(), false);
    softmax_heads(zb.data(), m, 1, C, zb.data());
    for (int64_t q = 0; q < m; ++q) std::copy_n(zb.data() + q * C, C, prob.data() + rows[q0 + q] * C);
  }
}

std::vector<int64_t> argmax_rows(const ScanData& data, const std::vector<float>& prob, int64_t c) {
  std::vector<int64_t> a(size_t(data.local_rows()), -1);
  for (int64_t i : data.my_rows) {
    const float* pi = prob.data() + i * c;
    a[i] = std::max_element(pi, pi + c) - pi;
  }
  return a;
}

}  // namespace distclust
