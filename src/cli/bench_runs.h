// The bodies of `distclust bench kmeans` and `bench knn` (cmd_bench.cpp
// registers the commands): each times the stage's kernel on a features file
// or on synthetic data, measures the CPU's sgemm rate at the kernel's shape
// in the same run (not on a GPU: bench/gpu_limits.py measures its rates),
// and prints a table and one `RESULT {json}` line on rank 0.
#pragma once

#include "cli/bench_params.h"
#include "distclust/comm.h"

namespace distclust::cli {

/// Collective. Lloyd iterations (median and best), the k-means++ seeding
/// alone, peak RSS, the sgemm limit at [rows x K x D].
void run_bench_kmeans(const BenchKMeansParams& p, Communicator& comm);

/// Collective. The exact kNN graph's search time, as 2*N*N*D and as the
/// products executed, against the sgemm limit at the kernel's tile shape.
void run_bench_knn(const BenchKnnParams& p, Communicator& comm);

}  // namespace distclust::cli
