// Self-labelling's neighbour gate.
//
// Self-labelling on frozen features trains the head on its own confident
// rows; with no image augmentation behind it, the rows it moves are boundary
// rows and the moves are as often wrong as right (measured on MNIST pixels:
// -0.13..+0.10 points of ACC over 6 seeds at lr 1e-4, -1.7..-3.6 at lr 1e-3).
// SCAN's own premise gives a label-free check of each move: a row belongs
// with its neighbours. A move from cluster a to cluster b is kept only when,
// among the row's neighbours, at least as many have SCAN cluster b as have
// SCAN cluster a. The neighbours' SCAN clusters (not their self-labelled
// ones) are the reference because self-labelling moves neighbours together:
// judged by their own new clusters, moves look consistent even when wrong.
#pragma once

#include <cstdint>
#include <vector>

#include "distclust/comm.h"
#include "scan/scan_rows.h"

namespace distclust {

/// Values of global rows `ids` (any order, repeats allowed) from the rank
/// owning each, where `own_values` [own rows] is this rank's block
/// (collective: one alltoallv of requests and one of replies).
std::vector<int64_t> fetch_row_values(const std::vector<int64_t>& ids, const std::vector<int64_t>& own_values,
                                      const ScanRows& rows, Communicator& comm);

/// Neighbour lists of this rank's rows: row i's neighbours (global rows) are
/// nbr[i * k .. i * k + count[i]).
struct NeighbourLists {
  const std::vector<int64_t>& nbr;    ///< [local rows x k]
  const std::vector<int32_t>& count;  ///< [local rows]
  int64_t k = 0;
};

/// What the gate did (sums over all ranks).
struct GateCounts {
  int64_t proposed = 0;  ///< valid rows whose cluster self-labelling changed
  int64_t kept = 0;      ///< of those, moves the neighbours support
};

/// For each local row i in `my_rows` with after[i] != before[i], keep[i] = 1
/// when at least as many of i's neighbours have before == after[i] as have
/// before == before[i], else 0; rows not moved get keep[i] = 1. before and
/// after: [local rows] clusters (SCAN's, self-labelling's). keep: resized to
/// [local rows]. Collective.
GateCounts neighbour_gate(const std::vector<int64_t>& before, const std::vector<int64_t>& after,
                          const std::vector<int64_t>& my_rows, const NeighbourLists& nl, const ScanRows& rows,
                          Communicator& comm, std::vector<uint8_t>& keep);

}  // namespace distclust
