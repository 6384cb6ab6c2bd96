// Pipeline stages as library calls: what each subcommand does after its
// parameters are resolved, so that `distclust run` can chain them. Each is
// collective, writes its output file (tmp + rename) with `config_hash` as
// an attribute, and resumes from its own checkpoint where it has one.
#pragma once

#include <string>

#include "distclust/comm.h"
#include "kmeans/kmeans.h"
#include "knn/knn.h"

namespace distclust {

/// Resolved settings of a stage: its YAML text and the hash that identifies
/// its output (the section plus the hashes of its inputs).
struct StageConfig {
  std::string yaml;
  std::string hash;
};

/// features.h5 -> kmeans.h5. Returns the final inertia.
double run_kmeans_stage(const KMeansParams& p, Communicator& comm, const StageConfig& cfg);

/// features.h5 -> knn.h5.
void run_knn_stage(const KnnParams& p, Communicator& comm, const StageConfig& cfg);

struct ScanParams;
/// features.h5 + knn.h5 -> scan.h5.
void run_scan_stage(const ScanParams& p, Communicator& comm, const StageConfig& cfg);

/// The `config_hash` attribute of an HDF5 file, or "" when the file or the
/// attribute is missing (rank 0 reads, all ranks receive).
std::string output_config_hash(const std::string& path, Communicator& comm);

}  // namespace distclust
