// Dense minimum-cost assignment: the shortest augmenting path form of the
// Hungarian method with row and column potentials (Jonker-Volgenant style).
// Rows are added one at a time; each addition is a Dijkstra-like scan over
// the columns, so the whole is O(rows^2 * cols) for rows <= cols.
#include <algorithm>
#include <cmath>
#include <limits>

#include "distclust/error.h"
#include "eval/metrics.h"

namespace distclust {
namespace {

/// rows <= cols. a(i, j) is the cost of row i, column j.
template <class Cost>
std::vector<int> assign_rows(int rows, int cols, const Cost& a) {
  const double inf = std::numeric_limits<double>::infinity();
  // 1-based with column 0 as the virtual start of each augmenting path.
  std::vector<double> u(rows + 1, 0), v(cols + 1, 0), minv(cols + 1);
  std::vector<int> row_of(cols + 1, 0), way(cols + 1, 0);
  std::vector<char> used(cols + 1);
  for (int i = 1; i <= rows; ++i) {
    row_of[0] = i;
    int j0 = 0;
    std::fill(minv.begin(), minv.end(), inf);
    std::fill(used.begin(), used.end(), 0);
    do {
      used[j0] = 1;
      const int i0 = row_of[j0];
      double delta = inf;
      int j1 = 0;
      for (int j = 1; j <= cols; ++j) {
        if (used[j]) continue;
        const double cur = a(i0 - 1, j - 1) - u[i0] - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (int j = 0; j <= cols; ++j) {
        if (used[j]) {
          u[row_of[j]] += delta;
          v[j] -= delta;
        } else {
          minv[j] -= delta;
        }
      }
      j0 = j1;
    } while (row_of[j0] != 0);
    do {  // flip the path back to its start
      const int j1 = way[j0];
      row_of[j0] = row_of[j1];
      j0 = j1;
    } while (j0 != 0);
  }
  std::vector<int> col_of_row(rows, -1);
  for (int j = 1; j <= cols; ++j)
    if (row_of[j] != 0) col_of_row[row_of[j] - 1] = j - 1;
  return col_of_row;
}

}  // namespace

std::vector<int> hungarian_min_cost(const std::vector<double>& cost, int rows, int cols) {
  require(rows >= 0 && cols >= 0, "hungarian_min_cost: negative shape ", rows, " x ", cols);
  require(cost.size() == static_cast<size_t>(rows) * static_cast<size_t>(cols),
          "hungarian_min_cost: cost has ", cost.size(), " entries, expected ", rows, " x ", cols);
  for (size_t k = 0; k < cost.size(); ++k)
    require(std::isfinite(cost[k]), "hungarian_min_cost: cost[", k / cols, "][", k % cols,
            "] = ", cost[k], " is not finite");
  if (rows <= cols)
    return assign_rows(rows, cols, [&](int i, int j) { return cost[size_t(i) * cols + j]; });
  // More rows than columns: assign each column a row on the transpose.
  const std::vector<int> row_of_col =
      assign_rows(cols, rows, [&](int j, int i) { return cost[size_t(i) * cols + j]; });
  std::vector<int> col_of_row(rows, -1);
  for (int j = 0; j < cols; ++j) col_of_row[row_of_col[j]] = j;
  return col_of_row;
}

}  // namespace distclust
