// Near-duplicate grouping (knn/near_duplicates.h): the threshold per metric,
// ties at it, self loops, edges listed on one side only, chains, the order of
// groups, and that a spanning forest per row block (what each rank sends)
// gives the same groups; the report's CSV reader.
#include <gtest/gtest.h>

#include <sstream>

#include "comm/local_comm.h"
#include "common/test_common.h"
#include "io/h5store.h"
#include "knn/near_duplicates.h"
#include "report/report_duplicates.h"

using namespace distclust;

namespace {

using Groups = std::vector<std::vector<int64_t>>;

/// A graph of n rows with k columns, -1 where a row lists fewer.
struct Graph {
  int64_t n, k;
  std::vector<int64_t> idx;
  std::vector<float> val;
  Graph(int64_t n_, int64_t k_) : n(n_), k(k_), idx(size_t(n_ * k_), -1), val(size_t(n_ * k_), 0.f) {}
  void set(int64_t row, int64_t col, int64_t nb, float v) {
    idx[size_t(row * k + col)] = nb;
    val[size_t(row * k + col)] = v;
  }
  std::vector<DupEdge> edges(const DuplicateRule& r, RowRange rows) const {
    return passing_edges(idx.data() + rows.begin * k, val.data() + rows.begin * k, rows, k, n, r, "g.h5");
  }
  Groups groups(const DuplicateRule& r) const { return duplicate_groups(edges(r, {0, n})); }
};

TEST(near_duplicates, ThresholdRangeDependsOnTheMetric) {
  EXPECT_NO_THROW(duplicate_rule("cosine", -1, "export.duplicates"));
  EXPECT_NO_THROW(duplicate_rule("cosine", 1, "export.duplicates"));
  EXPECT_NO_THROW(duplicate_rule("l2", 0, "export.duplicates"));
  EXPECT_NO_THROW(duplicate_rule("l2", 1e6, "export.duplicates"));
  std::string e = test::error_of([] { duplicate_rule("cosine", 1.5, "export.duplicates"); });
  EXPECT_NE(e.find("export.duplicates is 1.5, outside [-1, 1]"), std::string::npos) << e;
  EXPECT_NE(e.find("cosine"), std::string::npos) << e;
  e = test::error_of([] { duplicate_rule("l2", -0.1, "export.duplicates"); });
  EXPECT_NE(e.find("export.duplicates is -0.1, below 0"), std::string::npos) << e;
  EXPECT_NE(e.find("l2"), std::string::npos) << e;
  e = test::error_of([] { duplicate_rule("cosine", NAN, "export.duplicates"); });
  EXPECT_NE(e.find("finite"), std::string::npos) << e;
  e = test::error_of([] { duplicate_rule("hamming", 0.5, "export.duplicates"); });
  EXPECT_NE(e.find("'hamming'"), std::string::npos) << e;
}

TEST(near_duplicates, PairsExactlyAtTheThresholdCount) {
  // 0.9 is not a float; the stored 0.9f must count as "at 0.9".
  DuplicateRule cos = duplicate_rule("cosine", 0.9, "t");
  EXPECT_TRUE(cos.passes(0.9f));
  EXPECT_TRUE(cos.passes(1.0f));
  EXPECT_FALSE(cos.passes(std::nextafter(0.9f, 0.f)));
  EXPECT_FALSE(cos.passes(NAN));
  DuplicateRule l2 = duplicate_rule("l2", 0.1, "t");
  EXPECT_TRUE(l2.passes(0.1f));
  EXPECT_TRUE(l2.passes(0.f));
  EXPECT_FALSE(l2.passes(std::nextafter(0.1f, 1.f)));
  EXPECT_FALSE(l2.passes(NAN));
  EXPECT_EQ(cos.describe(), "cosine similarity >= 0.9");
  EXPECT_EQ(l2.describe(), "squared L2 distance <= 0.1");
}

TEST(near_duplicates, CosineKeepsHighSimilaritiesL2KeepsSmallDistances) {
  Graph g(4, 1);
  g.set(0, 0, 1, 0.99f);  // cosine: duplicate; l2: far
  g.set(2, 0, 3, 0.01f);  // cosine: unrelated; l2: duplicate
  EXPECT_EQ(g.groups(duplicate_rule("cosine", 0.95, "t")), (Groups{{0, 1}}));
  EXPECT_EQ(g.groups(duplicate_rule("l2", 0.05, "t")), (Groups{{2, 3}}));
}

TEST(near_duplicates, SelfLoopsAndMissingNeighboursJoinNothing) {
  Graph g(3, 3);
  g.set(0, 0, 0, 1.f);   // itself
  g.set(0, 1, -1, 1.f);  // no neighbour
  g.set(1, 0, 1, 1.f);
  EXPECT_TRUE(g.groups(duplicate_rule("cosine", 0.5, "t")).empty());
  g.set(2, 2, 7, 1.f);
  std::string e = test::error_of([&] { g.groups(duplicate_rule("cosine", 0.5, "t")); });
  EXPECT_NE(e.find("g.h5: /indices row 2 column 2 holds 7, outside [-1, 3)"), std::string::npos) << e;
}

TEST(near_duplicates, AnEdgeListedOnOneSideJoinsBothAndChainsJoinTransitively) {
  // 5 -> 4 -> 3 -> 2 (each only in one list), 0 <-> 1 (both lists, one
  // edge), 6 and 7 below the threshold, 8 alone.
  Graph g(9, 2);
  g.set(5, 0, 4, 0.97f);
  g.set(4, 0, 3, 0.96f);
  g.set(3, 1, 2, 0.95f);
  g.set(0, 0, 1, 0.99f);
  g.set(1, 0, 0, 0.99f);
  g.set(6, 0, 7, 0.94f);
  g.set(8, 0, 6, 0.10f);
  DuplicateRule r = duplicate_rule("cosine", 0.95, "t");
  EXPECT_EQ(g.edges(r, {0, 9}).size(), 4u);  // 0-1 once
  EXPECT_EQ(g.groups(r), (Groups{{2, 3, 4, 5}, {0, 1}}));
}

TEST(near_duplicates, GroupsBySizeThenSmallestRow) {
  Graph g(10, 1);
  g.set(9, 0, 8, 1.f);  // {8, 9}
  g.set(1, 0, 7, 1.f);  // {1, 7}
  g.set(2, 0, 3, 1.f);  // {2, 3, 4}
  g.set(4, 0, 3, 1.f);
  EXPECT_EQ(g.groups(duplicate_rule("cosine", 0.5, "t")), (Groups{{2, 3, 4}, {1, 7}, {8, 9}}));
}

// What each rank does: its block's edges reduced to a spanning forest; the
// forests together give the groups of the whole graph, for any split.
TEST(near_duplicates, ForestsOfRowBlocksGiveTheGroupsOfTheWholeGraph) {
  const int64_t n = 200, k = 4;
  Graph g(n, k);
  uint64_t s = 12345;
  auto next = [&] { return (s = s * 6364136223846793005ULL + 1442695040888963407ULL) >> 33; };
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j) g.set(i, j, int64_t(next() % n), float(next() % 1000) / 1000.f);
  for (double t : {0.8, 0.9, 0.98}) {
    DuplicateRule r = duplicate_rule("cosine", t, "t");
    const Groups whole = g.groups(r);
    ASSERT_FALSE(whole.empty()) << "threshold " << t;
    for (int p : {2, 3, 7}) {
      std::vector<DupEdge> sent;
      for (int rank = 0; rank < p; ++rank) {
        std::vector<DupEdge> f = spanning_forest(g.edges(r, row_block(n, rank, p)));
        EXPECT_LE(f.size(), g.edges(r, row_block(n, rank, p)).size());
        sent.insert(sent.end(), f.begin(), f.end());
      }
      EXPECT_EQ(duplicate_groups(sent), whole) << "threshold " << t << ", " << p << " blocks";
    }
  }
}

TEST(near_duplicates, FindReadsTheGraphsMetricFromTheFile) {
  const std::string path = test::tmp("dups-knn.h5");
  LocalCommunicator self;
  {
    Graph g(4, 1);
    g.set(0, 0, 1, 0.04f);
    g.set(2, 0, 3, 0.5f);
    H5Writer w(path, self);
    w.create<int64_t>("/indices", {4, 1});
    w.write_rows("/indices", {0, 4}, g.idx.data());
    w.create<float>("/similarities", {4, 1});
    w.write_rows("/similarities", {0, 4}, g.val.data());
    w.attr("metric", std::string("l2"));
    w.commit();
  }
  NearDuplicates d = find_near_duplicates(path, 0.05, "export.duplicates", self);
  EXPECT_EQ(d.rule.metric, "l2");
  EXPECT_EQ(d.groups, (Groups{{0, 1}}));
  EXPECT_EQ(d.rows_in_groups(), 2);
  std::string e = test::error_of([&] { find_near_duplicates(path, -1, "export.duplicates", self); });
  EXPECT_NE(e.find("export.duplicates is -1, below 0: " + path + " is an l2 kNN graph"), std::string::npos) << e;
  std::remove(path.c_str());
}

TEST(near_duplicates, ReportReadsCsvRecordsAsExportWritesThem) {
  std::istringstream in("group,size,row\r\n0,2,\"a,\"\"b\"\"\nc.png\"\n1,,x\n");
  std::vector<std::string> f;
  ASSERT_TRUE(report::read_csv_record(in, f));
  EXPECT_EQ(f, (std::vector<std::string>{"group", "size", "row"}));
  ASSERT_TRUE(report::read_csv_record(in, f));
  EXPECT_EQ(f, (std::vector<std::string>{"0", "2", "a,\"b\"\nc.png"}));
  ASSERT_TRUE(report::read_csv_record(in, f));
  EXPECT_EQ(f, (std::vector<std::string>{"1", "", "x"}));
  EXPECT_FALSE(report::read_csv_record(in, f));
}

}  // namespace
