// The distributed test harness itself (mpi_main.cpp): a failure on a rank
// other than 0 reaches the output with that rank's message. Runs only when
// DC_TEST_HARNESS_FAIL=1 (the ctest mpi_harness_reports_ranks), where it
// fails on purpose on the last rank.
#include <gtest/gtest.h>

#include <cstdlib>

#include "common/test_common.h"

using namespace distclust;

TEST(Harness, FailsOnTheLastRankWhenAsked) {
  const char* on = std::getenv("DC_TEST_HARNESS_FAIL");
  if (!on || std::string(on) != "1") GTEST_SKIP() << "harness self-check: runs under DC_TEST_HARNESS_FAIL=1 only";
  auto comm = test::world();
  EXPECT_NE(comm->rank(), comm->size() - 1) << "deliberate failure on rank " << comm->rank();
}
