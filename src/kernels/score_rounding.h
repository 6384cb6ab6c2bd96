// How far the L2 search's float scores 2<x,c> - |c|^2 may be from their
// exact values, and when that rounding decides an assignment (kmeans/
// assign.h on the host, the LibTorch device step). Header-only: the
// LibTorch plugin does not link distclust_core.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace distclust {

/// gamma_{d+2} = n u / (1 - n u): the relative bound of a float sum of d + 2
/// terms in any order (BLAS blocking, FMA, LibTorch's fp32 products).
inline double gamma_sum(int64_t d) {
  const double nu = double(d + 2) * 0x1p-24;
  return nu / (1.0 - nu);
}

/// How far a score 2<x,c> - |c|^2 (two sums of d float products and one
/// add) may be from its exact value: row_norm = |x|, centroid_norm = |c|.
/// Rows far from the origin compared with their distances (a group near
/// 1e4 in every column, 0.05 wide) have errors far above those distances.
inline double l2_score_error(double row_norm, double centroid_norm, int64_t d) {
  return gamma_sum(d) * (2.0 * row_norm * centroid_norm + centroid_norm * centroid_norm);
}

/// A row of |x| = r at distance d1 from its chosen centroid: a centroid
/// nearer than that has |c| within this of r (|x - c| >= ||c| - r|),
/// widened for the rounding of d1 (a float sum of differences, ~d u) and
/// of r (a float sum of squares).
inline double l2_norm_window(double r, double d1, int64_t d) {
  const double rel = double(d + 2) * 0x1p-24;
  return std::sqrt(std::max(d1, 0.0) * (1 + 2 * rel)) + 2 * rel * r;
}

/// Where a distance taken as |x|^2 - score (float) may be off by more than
/// this share of itself, it is taken from the differences instead.
constexpr double kFloatDistanceShare = 0x1p-8;

/// Whether |x|^2 - score (approx, float) may be off by over
/// kFloatDistanceShare of itself: the score's rounding and |x|^2's (r = |x|,
/// chosen_norm = the centroid's |c|).
inline bool l2_float_distance_unsure(double r, double chosen_norm, double approx, int64_t d) {
  return l2_score_error(r, chosen_norm, d) + gamma_sum(d) * r * r > kFloatDistanceShare * approx;
}

/// The share of a row's distance that the rounding of its best two scores
/// may reach before its nearest centroid is decided again from differences.
/// Below it the float choice stands: another centroid would be nearer by
/// under 1/8 of the distance at the very worst (~sqrt(d) times less in
/// practice), the ties any float32 k-means makes; re-deciding those too
/// cost 1.8x on tight clusters split by k = 10x their number.
constexpr double kMarginShare = 1.0 / 16;

/// Whether a row's float choice may not be its nearest centroid: best and
/// second its two best scores, chosen_norm the chosen centroid's |c|,
/// max_norm the largest centroid norm, r = |x|, d1 its distance to the
/// chosen one. A nearer centroid scores within the sum of their two
/// roundings of the best, and its norm is within l2_norm_window of r.
inline bool l2_choice_unsure(double best, double second, double chosen_norm, double max_norm, double r, double d1,
                             int64_t d) {
  const double reach = std::min(max_norm, r + l2_norm_window(r, d1, d));
  const double margin = l2_score_error(r, chosen_norm, d) + l2_score_error(r, reach, d);
  return best - second <= margin && margin > kMarginShare * d1;
}

}  // namespace distclust
