// Communicator collectives with exact expected values, for any rank count.
#include <gtest/gtest.h>

#include <mpi.h>

#include <cstdio>
#include <fstream>
#include <numeric>

#include "common/test_common.h"
#include "distclust/comm.h"
#include "distclust/error.h"
#include "io/commit.h"

using namespace distclust;
using test::world;

namespace {
}  // namespace

TEST(Comm, RankAndSizeMatchMpi) {
  auto c = world();
  int r = 0, s = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  EXPECT_EQ(c->rank(), r);
  EXPECT_EQ(c->size(), s);
  EXPECT_GE(c->local_size(), 1);
  EXPECT_LT(c->local_rank(), c->local_size());
  EXPECT_EQ(c->name(), s > 1 ? "mpi" : "local");
}

TEST(Comm, AllreduceSumAndMaxEveryType) {
  auto c = world();
  const int P = c->size(), r = c->rank();
  std::vector<double> d = {1.5 * r, -2.0, 1e300 / 8};
  c->allreduce_sum(d.data(), d.size());
  EXPECT_EQ(d[0], 1.5 * P * (P - 1) / 2);
  EXPECT_EQ(d[1], -2.0 * P);
  std::vector<float> f = {float(r + 1)};
  c->allreduce_sum(f.data(), 1);
  EXPECT_EQ(f[0], float(P * (P + 1) / 2));
  std::vector<int64_t> i = {int64_t(1) << 40, r};
  c->allreduce_sum(i.data(), 2);
  EXPECT_EQ(i[0], (int64_t(1) << 40) * P);
  EXPECT_EQ(i[1], int64_t(P) * (P - 1) / 2);
  std::vector<int32_t> m = {r, -r};
  c->allreduce_max(m.data(), 2);
  EXPECT_EQ(m[0], P - 1);
  EXPECT_EQ(m[1], 0);
  EXPECT_EQ(c->max(uint8_t(r * 10)), uint8_t((P - 1) * 10));
}

TEST(Comm, BroadcastFromEveryRoot) {
  auto c = world();
  for (int root = 0; root < c->size(); ++root) {
    std::vector<int64_t> v(1000, c->rank() == root ? root * 7 + 1 : -1);
    c->broadcast(v.data(), v.size() * sizeof(int64_t), root);
    for (auto x : v) ASSERT_EQ(x, root * 7 + 1);
  }
}

TEST(Comm, AllgatherVariableSizesInRankOrder) {
  auto c = world();
  std::vector<int64_t> mine(c->rank() + 1);  // rank r sends r+1 values
  std::iota(mine.begin(), mine.end(), int64_t(100 * c->rank()));
  auto all = c->allgather(mine);
  std::vector<int64_t> expect;
  for (int r = 0; r < c->size(); ++r)
    for (int j = 0; j <= r; ++j) expect.push_back(100 * r + j);
  EXPECT_EQ(all, expect);
  std::vector<int64_t> empty;
  EXPECT_TRUE(c->allgather(empty).empty());
}

TEST(Comm, SendrecvRoundTheRing) {
  auto c = world();
  const int P = c->size(), r = c->rank();
  std::vector<int> block(257, r), recv(257, -1);
  // After P steps every block has visited every rank and is home again.
  std::vector<int> seen;
  for (int step = 0; step < P; ++step) {
    c->sendrecv(block.data(), block.size() * sizeof(int), (r + 1) % P, recv.data(), recv.size() * sizeof(int),
                (r - 1 + P) % P);
    block.swap(recv);
    seen.push_back(block[0]);
  }
  EXPECT_EQ(block[0], r);
  std::vector<int> expect;
  for (int step = 1; step <= P; ++step) expect.push_back(((r - step) % P + P) % P);
  EXPECT_EQ(seen, expect);
}

TEST(Comm, RowBlocksTileTheRows) {
  auto c = world();
  for (int64_t n : {0, 1, 2, 7, 1000003}) {
    RowRange me = row_block(n, c->rank(), c->size());
    int64_t total = c->sum(me.size());
    EXPECT_EQ(total, n);
    EXPECT_EQ(me.begin, (n * c->rank()) / c->size());
  }
}

TEST(Comm, LocalRefusedInMultiRankJob) {
  auto c = world();
  if (c->size() == 1) GTEST_SKIP() << "needs more than one rank";
  EXPECT_THROW(make_communicator(CommParams{"local"}), distclust::Error);
}

// reduce_scatter_sum, own block written back, then allgather_blocks is an
// allreduce, block by block,
// with uneven and empty blocks (n < P) and both float types.
TEST(Comm, ReduceScatterThenAllgatherBlocks) {
  auto c = world();
  const int P = c->size(), r = c->rank();
  for (int64_t n : {int64_t(2), int64_t(1001)}) {
    std::vector<size_t> counts;
    for (int q = 0; q < P; ++q) counts.push_back(size_t(row_block(n, q, P).size()));
    const RowRange mine = row_block(n, r, P);
    std::vector<double> d(static_cast<size_t>(n));
    std::vector<float> f(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      d[i] = double(r + 1) * double(i) + 0.5;
      f[i] = float((r + 1) * (i % 97));
    }
    std::vector<double> dsum(counts[r], -1.0);
    std::vector<float> fsum(counts[r], -1.f);
    c->reduce_scatter_sum(d.data(), dsum.data(), counts, DType::f64);
    c->reduce_scatter_sum(f.data(), fsum.data(), counts, DType::f32);
    const double tri = double(P) * (P + 1) / 2;
    for (int64_t i = mine.begin; i < mine.end; ++i) {
      ASSERT_EQ(dsum[i - mine.begin], tri * double(i) + 0.5 * P) << "n " << n << " element " << i;
      ASSERT_EQ(fsum[i - mine.begin], float(tri * double(i % 97))) << "n " << n << " element " << i;
      d[i] = dsum[i - mine.begin];
      f[i] = fsum[i - mine.begin];
    }
    c->allgather_blocks(d.data(), counts, DType::f64);
    c->allgather_blocks(f.data(), counts, DType::f32);
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(d[i], tri * double(i) + 0.5 * P) << "n " << n << " element " << i;
      ASSERT_EQ(f[i], float(tri * double(i % 97))) << "n " << n << " element " << i;
    }
  }
}

// A failed close on the last rank only: that rank throws its cause, the
// others the echo "failed on another rank" as EchoError, which main leaves
// out when every rank failed (it printed before the cause, by rank order).
TEST(Comm, CommitFailedOnOneRankEchoesOnTheOthers) {
  auto c = world();
  if (c->size() < 2) GTEST_SKIP() << "needs 2 ranks";
  const std::string out = test::shared_tmp(*c, "commit-echo"), tmp = out + ".tmp";
  if (c->rank() == 0) std::fclose(std::fopen(tmp.c_str(), "w"));
  c->barrier();
  const bool last = c->rank() == c->size() - 1;
  bool echo = false, cause = false;
  try {
    commit_output(tmp, out, last ? "close failed: injected" : "", *c, false);
  } catch (const EchoError&) {
    echo = true;
  } catch (const Error& e) {
    cause = std::string(e.what()).find("close failed: injected") != std::string::npos;
  }
  EXPECT_EQ(echo, !last);
  EXPECT_EQ(cause, last);
  c->barrier();
  EXPECT_FALSE(std::ifstream(out).good()) << "committed";
}
