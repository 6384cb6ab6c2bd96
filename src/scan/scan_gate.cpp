#include "scan/scan_gate.h"

#include <algorithm>

#include "comm/alltoall.h"
#include "distclust/error.h"

namespace distclust {

std::vector<int64_t> fetch_row_values(const std::vector<int64_t>& ids, const std::vector<int64_t>& own_values,
                                      const ScanRows& rows, Communicator& comm) {
  const RowRange own = rows.own();
  require(int64_t(own_values.size()) == own.size(), "scan: internal error: ", own_values.size(),
          " values for ", own.size(), " own rows");
  const std::vector<int64_t> want = distinct_remote(ids, own);
  const std::vector<int64_t> wanted_values = fetch_from_owners<int64_t>(
      want, 1, [&](int64_t g) { return rows.owner(g); },
      [&](int64_t g) {
        require(g >= own.begin && g < own.end, "scan: rank ", comm.rank(), " asked for row ", g, " it does not own");
        return &own_values[size_t(g - own.begin)];
      },
      comm);
  std::vector<int64_t> out(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    const int64_t g = ids[i];
    if (g >= own.begin && g < own.end) {
      out[i] = own_values[size_t(g - own.begin)];
    } else {
      out[i] = wanted_values[size_t(std::lower_bound(want.begin(), want.end(), g) - want.begin())];
    }
  }
  return out;
}

GateCounts neighbour_gate(const std::vector<int64_t>& before, const std::vector<int64_t>& after,
                          const std::vector<int64_t>& my_rows, const NeighbourLists& nl, const ScanRows& rows,
                          Communicator& comm, std::vector<uint8_t>& keep) {
  keep.assign(before.size(), 1);
  // Only the neighbours of moved rows are looked up.
  std::vector<int64_t> moved, ids;
  for (int64_t i : my_rows)
    if (after[i] != before[i]) {
      moved.push_back(i);
      ids.insert(ids.end(), nl.nbr.begin() + i * nl.k, nl.nbr.begin() + i * nl.k + nl.count[i]);
    }
  const std::vector<int64_t> nb_before = fetch_row_values(ids, before, rows, comm);
  GateCounts gc;
  size_t at = 0;
  for (int64_t i : moved) {
    int64_t for_old = 0, for_new = 0;
    for (int32_t j = 0; j < nl.count[i]; ++j, ++at) {
      for_old += nb_before[at] == before[i];
      for_new += nb_before[at] == after[i];
    }
    keep[i] = for_new >= for_old;
    ++gc.proposed;
    gc.kept += keep[i];
  }
  gc.proposed = comm.sum(gc.proposed);
  gc.kept = comm.sum(gc.kept);
  return gc;
}

}  // namespace distclust
