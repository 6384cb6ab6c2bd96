// Sums whose value does not depend on the order of the terms: each term is
// rounded once to a fixed grid (a power of two, chosen from bounds on the
// terms and the sums), and the grid counts are added as int64, which is
// associative. A sum over rows is then bit-identical for any thread count
// and any rank count (an int64 allreduce is exact). With the bounds below
// the grid step is at most 2^-40 of the largest sum for up to 2^21 terms,
// far below float precision, so the rounding costs nothing that matters.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace distclust {

class FixedGrid {
 public:
  FixedGrid() = default;
  /// term_bound: the largest |term|; sum_bound: the largest |sum| (and
  /// partial sum). Terms above term_bound are a caller bug (not checked per
  /// term: the hot loops stay vectorised).
  FixedGrid(double term_bound, double sum_bound) {
    // Terms must stay below 2^51 grid steps (the rounding trick below),
    // sums below 2^62 (int64 headroom).
    int e_term = 0, e_sum = 0;
    std::frexp(term_bound > 0 ? term_bound : 1.0, &e_term);
    std::frexp(sum_bound > 0 ? sum_bound : 1.0, &e_sum);
    shift_ = std::min(51 - e_term, 62 - e_sum);
    scale_ = std::ldexp(1.0, shift_);
    inv_ = std::ldexp(1.0, -shift_);
  }
  int shift() const { return shift_; }

  /// v in grid steps, rounded to nearest (|v| * 2^shift < 2^51).
  int64_t to_fixed(double v) const {
    // Adding 1.5 * 2^52 leaves the rounded integer in the low mantissa bits
    // (round to nearest even, as the FPU rounds); vectorises, unlike llrint.
    const double t = v * scale_ + kMagic;
    int64_t bits, magic;
    std::memcpy(&bits, &t, 8);
    std::memcpy(&magic, &kMagic, 8);
    return bits - magic;
  }
  double to_double(int64_t q) const { return double(q) * inv_; }

  /// acc[j] += x[j] in grid steps, j < n.
  void add(int64_t* acc, const float* x, int64_t n) const {
    for (int64_t j = 0; j < n; ++j) acc[j] += to_fixed(double(x[j]));
  }

 private:
  static constexpr double kMagic = 6755399441055744.0;  // 1.5 * 2^52
  int shift_ = 0;
  double scale_ = 1, inv_ = 1;
};

}  // namespace distclust
