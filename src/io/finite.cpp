#include "io/finite.h"

#include <cmath>

#include "distclust/error.h"

namespace distclust {
namespace {

template <class T>
void check_rows(const T* x, int64_t n, int64_t d, const std::string& what) {
  constexpr double kMaxNorm2 = 1e37 / 4;  // as check_finite (extract/features_file.cpp)
  int64_t bad = 0, first = -1, huge = 0, first_huge = -1;
  for (int64_t i = 0; i < n; ++i) {
    const T* row = x + i * d;
    double norm2 = 0;
    bool finite = true;
    for (int64_t j = 0; j < d; ++j) {
      finite = finite && std::isfinite(row[j]);
      norm2 += double(row[j]) * double(row[j]);
    }
    if (!finite) {
      if (bad++ == 0) first = i;
    } else if (norm2 > kMaxNorm2) {
      if (huge++ == 0) first_huge = i;
    }
  }
  require(bad == 0, what, " row ", first, " holds NaN or Inf (", bad, " such rows of ", n, ")");
  require(huge == 0, what, " row ", first_huge, " has a norm above 1.6e18 (", huge, " such rows of ", n,
          "): float32 distances would overflow");
}

}  // namespace

void require_finite_rows(const float* x, int64_t n, int64_t d, const std::string& what) { check_rows(x, n, d, what); }
void require_finite_rows(const double* x, int64_t n, int64_t d, const std::string& what) { check_rows(x, n, d, what); }

}  // namespace distclust
