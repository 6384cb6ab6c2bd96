#include "io/finite.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "distclust/error.h"

namespace distclust {
namespace {

/// v as a double, and whether it is denormal, from its bits: with DAZ set
/// (compute_env) every floating-point operation reads a denormal as 0.
/// (Double denormals, below 2.2e-308, are taken as they read.)
inline double exact(float v, bool& denormal) {
  uint32_t b;
  std::memcpy(&b, &v, 4);
  denormal = (b & 0x7f800000u) == 0 && (b & 0x7fffffu) != 0;
  if (!denormal) return double(v);
  const double m = std::ldexp(double(b & 0x7fffffu), -149);
  return (b >> 31) ? -m : m;
}
inline double exact(double v, bool& denormal) {
  denormal = false;
  return v;
}

template <class T>
RowScan scan(const T* x, int64_t n, int64_t d, const uint8_t* valid) {
  RowScan s;
  for (int64_t i = 0; i < n; ++i) {
    if (valid && !valid[i]) continue;
    const T* row = x + i * d;
    double norm2 = 0;
    bool finite = true, denormals = false;
    for (int64_t j = 0; j < d; ++j) {
      finite = finite && std::isfinite(row[j]);
      bool dn = false;
      const double v = exact(row[j], dn);
      norm2 += v * v;
      denormals = denormals || dn;
    }
    if (!finite) {
      if (s.bad++ == 0) s.first_bad = i;
    } else if (denormals && norm2 < kDenormalsMatter2) {
      if (s.denormal++ == 0) s.first_denormal = i;
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
