// extract's ranks compare their listings of the image source: ranks that
// listed a folder while images were copied in sized OUT.tmp differently in
// parallel HDF5's collective create and hung there; with equal counts but
// other names, rows were dropped or doubled at the shard boundaries.
#include <gtest/gtest.h>

#include <stdexcept>

#include "common/test_common.h"
#include "distclust/error.h"
#include "extract/source_agreement.h"

using namespace distclust;
using test::error_of;
using test::world;

namespace {

class ListedSource : public ImageSource {
 public:
  ListedSource(std::vector<std::string> ids, std::vector<int64_t> labels) : ids_(std::move(ids)), labels_(std::move(labels)) {
    path_ = "imgs";
  }
  int64_t size() const override { return int64_t(ids_.size()); }
  std::string id(int64_t i) const override { return ids_[size_t(i)]; }
  int64_t label(int64_t i) const override { return labels_[size_t(i)]; }
  std::vector<std::string> class_names() const override { return {}; }
  RawImage read(int64_t) const override { throw std::logic_error("not read in this test"); }
  std::string kind() const override { return "list"; }

 private:
  std::vector<std::string> ids_;
  std::vector<int64_t> labels_;
};

ListedSource five() { return ListedSource({"a/1.png", "a/2.png", "b/3.png", "b/4.png", "b/5.png"}, {0, 0, 1, 1, 1}); }

}  // namespace

TEST(SourceAgreement, FingerprintSeesOrderNamesLabelsAndBoundaries) {
  const uint64_t f = listing_fingerprint(five());
  EXPECT_EQ(f, listing_fingerprint(five()));
  EXPECT_NE(f, listing_fingerprint(ListedSource({"a/1.png", "a/2.png", "b/3.png", "b/5.png", "b/4.png"}, {0, 0, 1, 1, 1})));
  EXPECT_NE(f, listing_fingerprint(ListedSource({"a/1.png", "a/2.png", "b/3.png", "b/4.png", "b/5.png"}, {0, 0, 1, 1, 0})));
  EXPECT_NE(listing_fingerprint(ListedSource({"ab", "c"}, {0, 0})), listing_fingerprint(ListedSource({"a", "bc"}, {0, 0})));
}

TEST(SourceAgreement, SameListingsPassOnEveryRank) {
  auto comm = world();
  EXPECT_NO_THROW(require_same_listing(five(), "imgs", *comm));
}

TEST(SourceAgreement, AnotherListingOnOneRankIsAnErrorOnEveryRank) {
  auto comm = world();
  if (comm->size() == 1) GTEST_SKIP() << "one rank: nothing to compare";
  const int last = comm->size() - 1;
  // One image more on the last rank (copied in while it listed).
  ListedSource more({"a/1.png", "a/2.png", "b/3.png", "b/4.png", "b/5.png", "b/6.png"}, {0, 0, 1, 1, 1, 1});
  std::string e = error_of([&] { require_same_listing(comm->rank() == last ? more : five(), "imgs", *comm); });
  EXPECT_NE(e.find("the ranks do not list the same images in imgs: "), std::string::npos) << e;
  EXPECT_NE(e.find("rank 0 lists 5, rank " + std::to_string(last) + ": 6."), std::string::npos) << e;
  // The same count, one name other (renamed meanwhile).
  ListedSource renamed({"a/1.png", "a/2.png", "b/3.png", "b/4.png", "b/5b.png"}, {0, 0, 1, 1, 1});
  e = error_of([&] { require_same_listing(comm->rank() == last ? renamed : five(), "imgs", *comm); });
  EXPECT_NE(e.find("rank " + std::to_string(last) + ": 5 (other names or labels)"), std::string::npos) << e;
}
