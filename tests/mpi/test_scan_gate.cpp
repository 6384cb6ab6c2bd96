// Self-labelling's neighbour gate on 1, 2 and 3 ranks: row values fetched
// from their owners, and the keep/turn-down decision of each move judged by
// the neighbours' SCAN clusters wherever those neighbours live.
#include <gtest/gtest.h>

#include "common/test_common.h"
#include "distclust/comm.h"
#include "extract/features_file.h"
#include "scan/scan_gate.h"
#include "scan/scan_rows.h"

using namespace distclust;
using test::world;

namespace {

/// This rank's block of an N-row, 1-column feature set (exchange mode: rows
/// of other ranks are not held, so every lookup must go through the owner).
ScanRows block_rows(int64_t N, Communicator& comm) {
  FeatureBlock b;
  b.n_total = N;
  b.d = 1;
  b.rows = row_block(N, comm.rank(), comm.size());
  b.x.assign(size_t(b.rows.size()), 0.f);
  b.valid.assign(size_t(b.rows.size()), 1);
  return ScanRows(std::move(b), false, comm);
}

template <class T> std::vector<T> local(const std::vector<T>& global, RowRange r) {
  return std::vector<T>(global.begin() + r.begin, global.begin() + r.end);
}

}  // namespace

TEST(ScanGate, FetchRowValuesFromOwners) {
  auto comm = world();
  const int64_t N = 13;
  ScanRows rows = block_rows(N, *comm);
  std::vector<int64_t> own_values;
  for (int64_t g = rows.own().begin; g < rows.own().end; ++g) own_values.push_back(100 + 7 * g);
  // Every row, backwards, with repeats and a rank-dependent order.
  std::vector<int64_t> ids;
  for (int64_t g = N - 1; g >= 0; --g) ids.push_back(g);
  ids.push_back(0);
  ids.push_back(N - 1);
  ids.push_back((5 * comm->rank()) % N);
  const std::vector<int64_t> got = fetch_row_values(ids, own_values, rows, *comm);
  ASSERT_EQ(got.size(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(got[i], 100 + 7 * ids[i]) << "row " << ids[i];
  // A rank asking for nothing still takes part.
  EXPECT_TRUE(fetch_row_values(comm->rank() == 0 ? ids : std::vector<int64_t>{}, own_values, rows, *comm).size() ==
              (comm->rank() == 0 ? ids.size() : 0u));
}

TEST(ScanGate, KeepsOnlyMovesTheNeighboursSupport) {
  auto comm = world();
  const int64_t N = 8, k = 3;
  // SCAN clusters (before) and self-labelling's (after), global.
  const std::vector<int64_t> before = {0, 0, 0, 1, 1, 1, 2, 2};
  const std::vector<int64_t> after = {1, 0, 0, 0, 2, 2, 0, 1};
  // Neighbours [N x k], count per row.
  const std::vector<int64_t> nbr_all = {1, 2, 3,  0, 2, 0,  0, 1, 0,  0, 1, 4,  6, 5, 0,
                                        3, 4, 7,  0, 0, 0,  6, 5, 3};
  const std::vector<int32_t> cnt_all = {3, 2, 2, 3, 2, 3, 0, 3};
  // row 0: 0 -> 1, neighbours' SCAN clusters {0, 0, 1}: 2 for the old, 1 for the new: turned down
  // row 3: 1 -> 0, {0, 0, 1}: kept
  // row 4: 1 -> 2, {2, 1}: a tie: kept
  // row 5: 1 -> 2, {1, 1, 2}: turned down (judged by the neighbours' *after* clusters
  //        {0, 2, 1} it would be a tie and kept: the gate must use before)
  // row 6: 2 -> 0, no neighbours: 0 >= 0, kept
  // row 7: 2 -> 1, {2, 1, 1}: kept
  const std::vector<uint8_t> want = {0, 1, 1, 1, 1, 0, 1, 1};
  ScanRows rows = block_rows(N, *comm);
  const RowRange own = rows.own();
  const std::vector<int64_t> nbr = local(std::vector<int64_t>(nbr_all.begin(), nbr_all.end()),
                                         RowRange{own.begin * k, own.end * k});
  const std::vector<int32_t> cnt = local(cnt_all, own);
  std::vector<int64_t> my_rows;
  for (int64_t i = 0; i < own.size(); ++i) my_rows.push_back(i);
  std::vector<uint8_t> keep;
  const GateCounts gc = neighbour_gate(local(before, own), local(after, own), my_rows,
                                       NeighbourLists{nbr, cnt, k}, rows, *comm, keep);
  EXPECT_EQ(gc.proposed, 6);
  EXPECT_EQ(gc.kept, 4);
  ASSERT_EQ(keep.size(), size_t(own.size()));
  for (int64_t i = 0; i < own.size(); ++i) EXPECT_EQ(keep[i], want[own.begin + i]) << "row " << own.begin + i;
}
