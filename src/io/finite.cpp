#include "io/finite.h"

#include <algorithm>
#include <cmath>

#include "distclust/error.h"

namespace distclust {
namespace {

template <class T>
RowScan scan(const T* x, int64_t n, int64_t d, const uint8_t* valid) {
  RowScan s;
  for (int64_t i = 0; i < n; ++i) {
    if (valid && !valid[i]) continue;
    const T* row = x + i * d;
    double norm2 = 0;
    bool finite = true;
    for (int64_t j = 0; j < d; ++j) {
      finite = finite && std::isfinite(row[j]);
      norm2 += double(row[j]) * double(row[j]);
    }
    if (!finite) {
      if (s.bad++ == 0) s.first_bad = i;
    } else {
      s.max_norm2 = std::max(s.max_norm2, norm2);
      if (norm2 > kMaxRowNorm2 && s.huge++ == 0) s.first_huge = i;
    }
  }
  return s;
}

template <class T>
void check_rows(const T* x, int64_t n, int64_t d, const std::string& what) {
  const RowScan s = scan(x, n, d, nullptr);
  require(s.bad == 0, what, " row ", s.first_bad, " holds NaN or Inf (", s.bad, " such rows of ", n, ")");
  require(s.huge == 0, what, " row ", s.first_huge, " has a norm above 1.6e18 (", s.huge, " such rows of ", n,
          "): float32 distances would overflow");
}

}  // namespace

RowScan scan_rows(const float* x, int64_t n, int64_t d, const uint8_t* valid) { return scan(x, n, d, valid); }
RowScan scan_rows(const double* x, int64_t n, int64_t d, const uint8_t* valid) { return scan(x, n, d, valid); }
void require_finite_rows(const float* x, int64_t n, int64_t d, const std::string& what) { check_rows(x, n, d, what); }
void require_finite_rows(const double* x, int64_t n, int64_t d, const std::string& what) { check_rows(x, n, d, what); }

}  // namespace distclust
