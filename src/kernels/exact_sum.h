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
    shift_ = shift_for(term_bound, sum_bound);
    scale_ = std::ldexp(1.0, shift_);
    inv_ = std::ldexp(1.0, -shift_);
  }
  /// The grid's shift for these bounds: terms must stay below 2^51 grid
  /// steps (the rounding trick below), sums below 2^62 (int64 headroom).
  static int shift_for(double term_bound, double sum_bound) {
    int e_term = 0, e_sum = 0;
    std::frexp(term_bound > 0 ? term_bound : 1.0, &e_term);
    std::frexp(sum_bound > 0 ? sum_bound : 1.0, &e_sum);
    return std::min(51 - e_term, 62 - e_sum);
  }
  int shift() const { return shift_; }
  /// The grid of step 2^-shift (SplitGrid's fine limb).
  static FixedGrid with_shift(int shift) {
    FixedGrid g;
    g.shift_ = shift;
    g.scale_ = std::ldexp(1.0, shift);
    g.inv_ = std::ldexp(1.0, -shift);
    return g;
  }

  /// v in grid steps, rounded to nearest (|v| * 2^shift < 2^51).
  int64_t to_fixed(double v) const { return round_scaled(v * scale_); }
  /// t (|t| < 2^51) rounded to the nearest integer, ties to even.
  static int64_t round_scaled(double t) {
    // Adding 1.5 * 2^52 leaves the rounded integer in the low mantissa bits
    // (round to nearest even, as the FPU rounds); vectorises, unlike llrint.
    const double u = t + kMagic;
    int64_t bits, magic;
    std::memcpy(&bits, &u, 8);
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

/// A FixedGrid sum with a second limb: each term is its nearest coarse grid
/// point (hi, in FixedGrid steps) plus the rest on a grid 2^fine_bits finer
/// (lo), both summed as int64, so the sum is as order-independent and keeps
/// fine_bits more bits. Why: the coarse step is sized by the largest term
/// bound times the term count; one far-out row (a squared norm of 1e16
/// among rows whose distances are ~1) made it larger than every other term,
/// and k-means' inertia summed to 0 (it then stopped as a perfect fit).
/// rest = v - hi * step is exact (Sterbenz: hi * step is within a factor 2
/// of v, or 0), and |rest| <= step / 2, so a fine term has under fine_bits
/// bits and `terms` of them stay below 2^62.
class SplitGrid {
 public:
  SplitGrid() = default;
  /// term_bound, sum_bound: as FixedGrid's; terms: the most terms summed.
  SplitGrid(double term_bound, double sum_bound, double terms) : coarse_(term_bound, sum_bound) {
    int e_terms = 0;
    std::frexp(std::max(terms, 1.0), &e_terms);
    fine_ = FixedGrid::with_shift(coarse_.shift() + std::clamp(61 - e_terms, 0, 30));
  }
  int shift() const { return coarse_.shift(); }
  int fine_shift() const { return fine_.shift(); }
  void add(int64_t& hi, int64_t& lo, double v) const {
    const int64_t q = coarse_.to_fixed(v);
    hi += q;
    lo += fine_.to_fixed(v - coarse_.to_double(q));
  }
  double to_double(int64_t hi, int64_t lo) const { return coarse_.to_double(hi) + fine_.to_double(lo); }

 private:
  FixedGrid coarse_, fine_;
};

}  // namespace distclust
