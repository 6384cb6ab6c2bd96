// TopK (distclust/topk.h): the kept candidates are the best `cap` by score,
// ties to the lower row index, whether a list is kept sorted (cap <= 64) or
// as a heap; a checkpoint's heaps are taken back by normalize().
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "distclust/topk.h"

using distclust::TopK;

namespace {
struct Cand {
  float v;
  int64_t j;
};
bool better(const Cand& a, const Cand& b) { return TopK::better(a.v, a.j, b.v, b.j); }

/// Random candidates with many equal scores (ties decide by index).
std::vector<Cand> candidates(int n, uint32_t seed) {
  std::mt19937 g(seed);
  std::uniform_int_distribution<int> score(0, 40);
  std::vector<Cand> c(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) c[size_t(i)] = {float(score(g)) * 0.25f, int64_t(i)};
  std::shuffle(c.begin(), c.end(), g);
  return c;
}

/// Query q's kept candidates, best first.
std::vector<Cand> kept(const TopK& t, int64_t q) {
  std::vector<Cand> k;
  for (int c = 0; c < t.cap(); ++c) k.push_back({t.scores(q)[c], t.indices(q)[c]});
  std::sort(k.begin(), k.end(), better);
  return k;
}

std::vector<Cand> best(std::vector<Cand> c, int cap) {
  std::sort(c.begin(), c.end(), better);
  c.resize(size_t(cap));
  return c;
}

void expect_same(const std::vector<Cand>& a, const std::vector<Cand>& b, const char* what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].v, b[i].v) << what << " at " << i;
    EXPECT_EQ(a[i].j, b[i].j) << what << " at " << i;
  }
}
}  // namespace

TEST(TopK, KeepsTheBestWithTiesToTheLowerIndexSortedOrHeap) {
  for (int cap : {1, 2, 5, 20, 24, TopK::kSortedCap, TopK::kSortedCap + 1, 100}) {
    const auto c = candidates(900, uint32_t(cap));
    TopK t(2, cap);
    for (const Cand& x : c) t.push(1, x.v, x.j);
    const auto want = best(c, cap);
    expect_same(kept(t, 1), want, "kept");
    EXPECT_EQ(t.threshold(1), want.back().v) << "cap " << cap;
    EXPECT_EQ(t.indices(0)[0], std::numeric_limits<int64_t>::max()) << "the other query was touched";
  }
}

TEST(TopK, NormalizeTakesBackListsKeptAsHeaps) {
  // A checkpoint of an older version holds each list as a min-heap (root =
  // worst) in heap order, not sorted: normalize() must come first, or the
  // sorted insertion keeps the wrong candidates.
  const int cap = 20;
  const auto c = candidates(600, 7);
  const std::vector<Cand> first(c.begin(), c.begin() + 300), rest(c.begin() + 300, c.end());
  std::vector<Cand> heap = best(first, cap);
  std::make_heap(heap.begin(), heap.end(), better);  // root: the worst
  ASSERT_FALSE(std::is_sorted(heap.begin(), heap.end(), [](const Cand& a, const Cand& b) { return better(b, a); }));
  TopK t(1, cap);
  for (int i = 0; i < cap; ++i) t.raw_scores()[size_t(i)] = heap[size_t(i)].v, t.raw_indices()[size_t(i)] = heap[size_t(i)].j;
  t.normalize();
  for (const Cand& x : rest) t.push(0, x.v, x.j);
  expect_same(kept(t, 0), best(c, cap), "after a checkpoint's heap");
}
