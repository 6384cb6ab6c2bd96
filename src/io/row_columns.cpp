#include "io/row_columns.h"

#include <algorithm>

#include "distclust/error.h"

namespace distclust {

void require_row_column(const H5Reader& r, const std::string& name, int64_t n) {
  const DatasetInfo li = r.info(name);
  const bool rows = (li.shape.size() == 1 && li.shape[0] == n) ||
                    (li.shape.size() == 2 && li.shape[0] == n && li.shape[1] == 1);
  require(rows, r.path(), ": ", name, " is ", li.describe(), ": expected one value per row, [", n, "] or [", n,
          " x 1]");
  require(li.integer(), r.path(), ": ", name, " is ", li.describe(), ": expected integers (",
          name == "/valid" ? "0 = invalid row, else valid; a numpy bool array: store it as uint8"
                           : "one class per row, -1 = unknown",
          ")");
}

std::vector<int64_t> read_labels(const H5Reader& r, RowRange rows, int64_t n) {
  if (!r.has("/labels")) return std::vector<int64_t>(size_t(rows.size()), -1);
  require_row_column(r, "/labels", n);
  return r.read_rows<int64_t>("/labels", rows);
}

std::vector<int64_t> read_all_labels(const H5Reader& r) {
  if (!r.has("/labels")) return {};
  const DatasetInfo li = r.info("/labels");
  const int64_t n = li.shape.empty() ? 0 : li.shape[0];
  return read_labels(r, RowRange{0, n}, n);
}

std::vector<uint8_t> read_valid(const H5Reader& r, RowRange rows, int64_t n) {
  if (!r.has("/valid")) return std::vector<uint8_t>(size_t(rows.size()), 1);
  require_row_column(r, "/valid", n);
  const std::vector<int64_t> v = r.read_rows<int64_t>("/valid", rows);
  std::vector<uint8_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = v[i] != 0;
  return out;
}

int64_t declared_clusters(const H5Reader& r) {
  int64_t declared = 0;
  // Shapes only: eval reads /assign alone, and a /probabilities it never
  // reads (compressed with a filter this HDF5 lacks) must not stop it.
  if (r.has("/centroids")) {  // a scalar or 1-D one declares nothing (the stages that read it refuse it)
    const std::vector<int64_t> c = r.shape("/centroids");
    if (c.size() == 2) declared = std::max(declared, c[0]);
  }
  if (r.has("/probabilities")) {
    const std::vector<int64_t> p = r.shape("/probabilities");
    if (p.size() == 2) declared = std::max(declared, p[1]);
  }
  return declared;
}

}  // namespace distclust
