// A sample of a features file's rows that is the same for any rank count,
// and the sample's vectors on every rank: what IVF training and tuning, the
// recall check and the L2 centre (row_centre.h) draw from.
#pragma once

#include <cstdint>
#include <vector>

#include "distclust/comm.h"
#include "extract/features_file.h"

namespace distclust {

/// A keyed sample of up to m valid rows (global rows, sorted, replicated):
/// the rows with the smallest key_hash(seed, row, salt). The same rows for
/// any rank count (collective).
std::vector<int64_t> keyed_sample(const FeatureBlock& b, int64_t m, uint64_t seed, uint64_t salt,
                                  Communicator& comm);

/// The vectors [m x d] of global rows `rows` (sorted; replicated), from their owners (collective).
std::vector<float> gather_rows(const FeatureBlock& b, const std::vector<int64_t>& rows, Communicator& comm);

}  // namespace distclust
