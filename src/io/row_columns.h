// The per-row columns beside /features: /labels (a class per row, -1 =
// unknown) and /valid (0 = an invalid row, anything else valid), read as the
// README defines them from files any tool wrote. A float /labels was read
// as int64 (3.5 -> 3, NaN -> -2^63) by export, report and embed while eval
// refused it; an int8 /valid of -1 saturated to 0 and made the row invalid.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/h5store.h"

namespace distclust {

/// Throws naming the file and dataset unless `name` is an integer dataset of
/// n rows (those of /features; a labels-only file: its own): [n], or [n x 1]
/// (a column vector from numpy).
void require_row_column(const H5Reader& r, const std::string& name, int64_t n);

/// /labels rows [n]; all -1 when the file has none. Checked as above.
std::vector<int64_t> read_labels(const H5Reader& r, RowRange rows, int64_t n);

/// Every row of /labels, its own length (a labels-only file: eval's
/// --labels); empty when the file has none. Checked as above.
std::vector<int64_t> read_all_labels(const H5Reader& r);

/// /valid rows [n] as 0/1 (nonzero = valid); all 1 when the file has none.
std::vector<uint8_t> read_valid(const H5Reader& r, RowRange rows, int64_t n);

/// The clusters a predictions file declares: the rows of /centroids or the
/// columns of /probabilities, whichever is more; 0 when it has neither (a
/// file another tool wrote: /assign alone).
int64_t declared_clusters(const H5Reader& r);

}  // namespace distclust
