// Helpers the unit and distributed tests share (one copy instead of one per
// file): errors as text, scratch paths, small files, random data, the
// synthetic mixture, the world communicator.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/tolerances.h"
#include "distclust/comm.h"
#include "distclust/error.h"
#include "extract/features_file.h"

namespace distclust::test {

/// The message of the distclust::Error f() throws, or "(no error)".
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

/// A path for a scratch file of this test process: TMP/dc-test-PID-name.
std::string tmp(const std::string& name);

/// A path shared by every rank of a distributed test (DC_TEST_TMP or /tmp,
/// made by rank 0): DIR/name-npP.h5. Collective.
std::string shared_tmp(Communicator& comm, const std::string& name);

void write_text(const std::string& path, const std::string& text);
void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes);

/// Overwrites with zeros, in place, the first place in the file `path` that
/// holds the `n` bytes at `data` (a stray write over a dataset's middle).
/// Returns false when those bytes are not in the file.
bool zero_bytes_of(const std::string& path, const void* data, size_t n);

/// n x d standard normal values (keyed: the same for a seed everywhere).
std::vector<float> randn(int64_t n, int64_t d, uint64_t seed, uint64_t stream = 1);

/// The rows [rank's block] of a Gaussian mixture of k unit centres in d
/// dimensions (synth_features), all valid, labels = component.
FeatureBlock mixture(int64_t n, int d, int k, double noise, int64_t seed = 1, int rank = 0, int ranks = 1);

/// mixture(20000, 16, 7, 0.3, 5) with every 10th row moved to one of two
/// groups near 1e4 in all 16 columns, 0.05 wide (normal noise from seed),
/// `gap` apart in column 0; labels 7 and 8 (rows 0, 20, ... and 10, 30, ...).
/// Their float scores are ~100 off; the median stays near the origin.
FeatureBlock far_groups_beside_blobs(float gap, uint32_t seed);

/// The job's communicator (MPI under mpiexec, local otherwise).
std::unique_ptr<Communicator> world();

}  // namespace distclust::test
