// Joins on the CPU, each pair's product computed once: a block against
// itself (search_self) and two distinct blocks against each other
// (search_pair). Rows are cut into tiles of tile_rows aligned to multiples of
// it in the global row numbering. A pair of tiles (I, J) is one sgemm
// g = X_I X_J^T; its rows go to I's heaps (the usual per-row offer) and its
// columns to J's heaps (a sweep down the rows with one threshold per column,
// so the tile is read row by row, never transposed). A tile pair updates
// the heaps of both tiles, so threads must not share a tile: the pairs run
// in rounds in which every tile meets at most one other (a round-robin
// tournament for the self-join, shifted diagonals for two blocks), with a
// barrier between rounds. The heaps keep the best (score, id) under a total
// order, so the result does not depend on the order of the rounds or on the
// thread count.
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <vector>

#include "distclust/error.h"
#include "kernels/blas.h"
#include "kernels/search_offer.h"

namespace distclust {
namespace search_detail {
namespace {

/// One side of a join: rows x [n x d] with global ids first.., cut into
/// tiles of `tile` aligned to global multiples, and the heaps they fill.
struct Side {
  const float* x;
  int64_t n, first, tile;
  std::vector<float> bias;  ///< per row as a base row: -|x|^2 (l2) or 0; -inf if invalid
  TopK* top;
  int64_t t_first() const { return floor_div(first, tile); }
  int64_t tiles() const { return n == 0 ? 0 : floor_div(first + n - 1, tile) - t_first() + 1; }
  int64_t lo(int64_t t) const { return std::max(first, (t_first() + t) * tile) - first; }
  int64_t hi(int64_t t) const { return std::min(first + n, (t_first() + t + 1) * tile) - first; }
};

Side make_side(const SearchQueries& q, const uint8_t* valid, const SearchTiling& t, bool l2, TopK& top) {
  require(q.d >= 1 && (q.n == 0 || q.x), "search join: bad shapes (", q.n, " x ", q.d, ")");
  require(!q.ids && !q.top_rows, "search join: queries with ids or top_rows are not a join of row blocks");
  return Side{q.x, q.n, q.first_row, std::max<int64_t>(kLanes, t.tile_rows),
              base_bias(SearchBase{q.x, q.n, q.first_row, nullptr, nullptr, valid, true}, q.d, l2), &top};
}

/// Round r of a round-robin tournament on `slots` (even) places: pair u of
/// slots/2. Every two places meet exactly once in rounds 0..slots-2.
void circle_pair(int64_t r, int64_t u, int64_t slots, int64_t& a, int64_t& b) {
  const int64_t m = slots - 1;
  if (u == 0) {
    a = m, b = r;
  } else {
    a = (r + u) % m, b = (r - u + m) % m;
  }
}

/// Offers column j of g [mi x mj] (scores of base rows lo_i.. for query
/// lo_j + j) to the heaps of J's rows: one pass down g's rows, comparing a
/// row with the columns' thresholds 64 at a time (score_mask.h) and offering
/// only the columns whose bit is set.
void offer_columns(const float* g, int64_t mi, int64_t mj, const float* bias_i, int64_t id_i0, int64_t lo_j,
                   std::vector<float>& thr, TopK& top) {
  constexpr int64_t kBlock = 64;
  for (int64_t j = 0; j < mj; ++j) thr[size_t(j)] = top.threshold(lo_j + j);
  auto offer = [&](int64_t j, float v, int64_t id) {
    top.push(lo_j + j, v, id);
    thr[size_t(j)] = top.threshold(lo_j + j);
  };
  const int64_t full = mj - mj % kBlock;
  for (int64_t i = 0; i < mi; ++i) {
    const float bi = bias_i[i];
    if (bi == kNever) continue;  // an invalid row is never a neighbour
    const float* gi = g + i * mj;
    for (int64_t j0 = 0; j0 < full; j0 += kBlock)
      for (uint64_t m = ge_mask64_cols(gi + j0, bi, thr.data() + j0); m;) {
        const int64_t j = j0 + pop_lowest(m);
        offer(j, gi[j] + bi, id_i0 + i);
      }
    for (int64_t j = full; j < mj; ++j)
      if (gi[j] + bi >= thr[size_t(j)]) offer(j, gi[j] + bi, id_i0 + i);
  }
}

/// Tile I of a against tile J of b, one sgemm, offered both ways (once when
/// it is a diagonal tile of a self-join, whose product holds both halves).
void join_tiles(const Side& a, int64_t I, const Side& b, int64_t J, bool self, int64_t d, float alpha,
                std::vector<float>& g, std::vector<float>& thr) {
  const int64_t li = a.lo(I), mi = a.hi(I) - li, lj = b.lo(J), mj = b.hi(J) - lj;
  blas::sgemm(false, true, mi, mj, d, alpha, a.x + li * d, d, b.x + lj * d, d, 0.f, g.data(), mj);
  const int64_t id_j0 = b.first + lj;
  const bool diagonal = self && I == J;
  for (int64_t i = 0; i < mi; ++i)
    offer_row(g.data() + i * mj, b.bias.data() + lj, mj, [id_j0](int64_t j) { return id_j0 + j; },
              diagonal ? a.first + li + i : -1, li + i, *a.top);
  if (!diagonal) offer_columns(g.data(), mi, mj, a.bias.data() + li, a.first + li, lj, thr, *b.top);
}

/// Runs rounds 0..rounds-1 of `units(r)` tile pairs each, pair(r, u, I, J)
/// naming them (false: an idle place), threads over the pairs of a round.
template <class Units, class Pair>
void run_rounds(const Side& a, const Side& b, bool self, int64_t d, float alpha, int64_t rounds, Units units,
                Pair pair, int64_t total, const std::function<void(int64_t)>& on_rows) {
  std::atomic<int64_t> done{0};
  const int64_t tile = std::max(a.tile, b.tile);
#pragma omp parallel if (total > 1 && !omp_in_parallel())
  {
    std::vector<float> g(static_cast<size_t>(tile * tile)), thr(static_cast<size_t>(tile));
    for (int64_t r = 0; r < rounds; ++r) {
#pragma omp for schedule(dynamic, 1)
      for (int64_t u = 0; u < units(r); ++u) {
        int64_t I = 0, J = 0;
        if (!pair(r, u, I, J)) continue;
        join_tiles(a, I, b, J, self, d, alpha, g, thr);
        const int64_t now = ++done;
        // Progress in a's rows: a tile pair counts for its share of all pairs.
        if (on_rows && omp_get_thread_num() == 0) on_rows(std::min(a.n, int64_t(double(a.n) * now / total)));
      }
    }
  }
}

}  // namespace

void cpu_search_self(const SearchTiling& t, const SearchQueries& q, const uint8_t* valid, Metric m, TopK& top,
                     const std::function<void(int64_t)>& on_rows) {
  const bool l2 = m == Metric::l2;
  const Side s = make_side(q, valid, t, l2, top);
  if (s.n == 0) return;
  blas::single_thread();
  const int64_t nb = s.tiles(), slots = nb + (nb & 1);
  // Round 0: each tile against itself; then the tournament's slots - 1 rounds.
  run_rounds(
      s, s, true, q.d, l2 ? 2.f : 1.f, slots, [&](int64_t r) { return r == 0 ? nb : slots / 2; },
      [&](int64_t r, int64_t u, int64_t& I, int64_t& J) {
        if (r == 0) {
          I = J = u;
          return true;
        }
        circle_pair(r - 1, u, slots, I, J);
        return I < nb && J < nb;  // the idle place of an odd count
      },
      nb * (nb + 1) / 2, on_rows);
}

void cpu_search_pair(const SearchTiling& t, const SearchQueries& qa, const uint8_t* valid_a, const SearchQueries& qb,
                     const uint8_t* valid_b, Metric m, TopK& top_a, TopK& top_b,
                     const std::function<void(int64_t)>& on_rows) {
  require(qa.d == qb.d, "search_pair: blocks of ", qa.d, " and ", qb.d, " columns");
  const bool l2 = m == Metric::l2;
  const Side a = make_side(qa, valid_a, t, l2, top_a), b = make_side(qb, valid_b, t, l2, top_b);
  require(a.first + a.n <= b.first || b.first + b.n <= a.first, "search_pair: rows ", a.first, "..",
          a.first + a.n, " and ", b.first, "..", b.first + b.n, " overlap (a self-join is search_self)");
  if (a.n == 0 || b.n == 0) return;
  blas::single_thread();
  // Round r pairs tile u of the side with fewer tiles with tile (u + r) mod
  // the other's count: no tile twice in a round, every pair once.
  const int64_t na = a.tiles(), nb = b.tiles(), few = std::min(na, nb), many = std::max(na, nb);
  run_rounds(
      a, b, false, qa.d, l2 ? 2.f : 1.f, many, [&](int64_t) { return few; },
      [&](int64_t r, int64_t u, int64_t& I, int64_t& J) {
        const int64_t v = (u + r) % many;
        I = na <= nb ? u : v, J = na <= nb ? v : u;
        return true;
      },
      na * nb, on_rows);
}

}  // namespace search_detail
}  // namespace distclust
