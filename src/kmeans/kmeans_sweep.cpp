#include "kmeans/kmeans_sweep.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>

#include "distclust/error.h"
#include "distclust/rng.h"

namespace distclust {
namespace {

int to_k(const std::string& where, const std::string& s) {
  char* end = nullptr;
  const long v = std::strtol(s.c_str(), &end, 10);
  require(!s.empty() && *end == '\0' && v >= 2 && v <= (1 << 24), where, ": '", s,
          "' is not a K for a sweep (an integer from 2 to 2^24 = 16777216)");
  return int(v);
}

}  // namespace

std::vector<int> parse_sweep(const std::string& where, const std::string& text) {
  std::vector<int> ks;
  if (text.find(':') != std::string::npos) {
    std::vector<std::string> parts;
    size_t at = 0;
    for (size_t c; (c = text.find(':', at)) != std::string::npos; at = c + 1) parts.push_back(text.substr(at, c - at));
    parts.push_back(text.substr(at));
    require(parts.size() == 2 || parts.size() == 3, where, ": '", text, "' is not a range A:B or A:B:STEP");
    const int a = to_k(where, parts[0]), b = to_k(where, parts[1]);
    char* end = nullptr;  // STEP whole: atoi read "1.5" as 1 and "x" as 0
    const long step = parts.size() == 3 ? std::strtol(parts[2].c_str(), &end, 10) : 1;
    require(parts.size() == 2 || (!parts[2].empty() && *end == '\0'), where, ": '", text, "': STEP '", parts.back(),
            "' is not a whole number");
    require(step >= 1 && step <= (1 << 24) && a <= b, where, ": '", text, "' is an empty range (A <= B, 1 <= STEP <= 2^24)");
    for (int k = a; k <= b; k += step) ks.push_back(k);
  } else {
    size_t at = 0;
    for (size_t c; (c = text.find(',', at)) != std::string::npos; at = c + 1) ks.push_back(to_k(where, text.substr(at, c - at)));
    ks.push_back(to_k(where, text.substr(at)));
  }
  std::sort(ks.begin(), ks.end());
  ks.erase(std::unique(ks.begin(), ks.end()), ks.end());
  require(ks.size() <= 64, where, ": '", text, "' gives ", ks.size(), " values of K; a sweep takes at most 64");
  return ks;
}

double sampled_silhouette(const FeatureBlock& b, const std::vector<int64_t>& assign, int64_t sample, uint64_t seed,
                          Communicator& comm) {
  const int64_t n = b.local_rows(), d = b.d;
  int64_t valid = 0;
  for (int64_t i = 0; i < n; ++i) valid += b.valid[i] && assign[i] >= 0;
  valid = comm.sum(valid);
  if (valid < 2) return 0;
  // Keyed by global row: the same sample for any rank count.
  const double keep = std::min(1.0, double(sample) / double(valid));
  std::vector<float> x;
  std::vector<int64_t> lab;
  for (int64_t i = 0; i < n; ++i) {
    if (!b.valid[i] || assign[i] < 0) continue;
    if (unit_double(key_hash(seed, 0x51'1E77ull, uint64_t(b.rows.begin + i))) >= keep) continue;
    x.insert(x.end(), b.x.begin() + i * d, b.x.begin() + (i + 1) * d);
    lab.push_back(assign[i]);
  }
  x = comm.allgather(x);
  lab = comm.allgather(lab);
  const int64_t m = int64_t(lab.size());
  std::map<int64_t, int> index;  // cluster -> dense index
  for (int64_t c : lab) index.emplace(c, 0);
  if (index.size() < 2) return 0;
  int next = 0;
  for (auto& [c, j] : index) j = next++;
  std::vector<int> cl(static_cast<size_t>(m));
  std::vector<double> count(index.size(), 0.0);
  for (int64_t i = 0; i < m; ++i) cl[size_t(i)] = index[lab[size_t(i)]], count[size_t(cl[size_t(i)])] += 1;
  const int P = comm.size(), r = comm.rank();
  const size_t C = index.size();
  // Each sampled row's s on one rank (0 elsewhere), summed exactly across
  // ranks, then added in row order: the same bits for any rank and thread count.
  std::vector<double> sil(static_cast<size_t>(m), 0.0);
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t i = r; i < m; i += P) {
    std::vector<double> sum(C, 0.0);
    const float* xi = x.data() + i * d;
    for (int64_t j = 0; j < m; ++j) {
      if (j == i) continue;
      const float* xj = x.data() + j * d;
      double s = 0;
      for (int64_t q = 0; q < d; ++q) {
        const double u = double(xi[q]) - double(xj[q]);
        s += u * u;
      }
      sum[size_t(cl[size_t(j)])] += std::sqrt(s);
    }
    const int own = cl[size_t(i)];
    if (count[size_t(own)] < 2) continue;  // alone in its cluster: s = 0
    const double a = sum[size_t(own)] / (count[size_t(own)] - 1);
    double bmin = INFINITY;
    for (size_t c = 0; c < C; ++c)
      if (int(c) != own && count[c] > 0) bmin = std::min(bmin, sum[c] / count[c]);
    const double den = std::max(a, bmin);
    sil[size_t(i)] = den > 0 ? (bmin - a) / den : 0.0;
  }
  comm.allreduce_sum(sil.data(), sil.size());
  double total = 0;
  for (double v : sil) total += v;
  return total / double(m);
}

}  // namespace distclust
