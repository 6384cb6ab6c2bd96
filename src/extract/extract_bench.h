// `distclust bench extract`: the extract pipeline's images/s against its two
// limits on this machine, each measured alone in the same run:
//   (a) forward only: the backbone on a batch of the source's images,
//       preprocessed and already in memory;
//   (b) decode + preprocess only: the decode pool with every core, no model.
// The pipeline overlaps them on the same cores, so its target is a share of
// min(a, b) (design.md: extraction is limited by the slower of the two).
#pragma once

#include <cstdint>
#include <string>

#include "extract/backbone.h"
#include "distclust/comm.h"
#include "extract/extract.h"

namespace distclust {

/// Parameters of `distclust bench extract` (YAML section `bench_extract`);
/// the pipeline itself is set by the `extract` section.
struct BenchExtractParams {
  int iters = 10;                ///< batches timed for the forward-only rate (after 3 warm-up batches)
  int64_t decode_images = 0;     ///< images decoded for the decode-only rate (0 = all)
  std::string json = "";         ///< write the figures as JSON to this file
  template <class V> void visit(V& v) {
    v("iters", iters, "batches timed for the forward-only rate");
    v("decode_images", decode_images, "images decoded for the decode-only rate (0 = all)");
    v("json", json, "write results as JSON to this file");
  }
  void validate() const;
};

/// The figures, in images per second.
struct BenchExtractResult {
  int64_t images = 0;             ///< rows of the source
  int cores = 0;                  ///< cores of this rank
  int decode_threads = 0, model_threads = 0;  ///< the pipeline's split
  double forward = 0;             ///< (a) forward only, model_threads threads
  double decode_all_cores = 0;    ///< (b) decode + preprocess, one thread per core
  double decode_pipeline = 0;     ///< decode + preprocess with the pipeline's decode_threads
  double extract = 0;             ///< the whole stage: batch loop (decode, forward, HDF5 writes)
  double extract_wall = 0;        ///< the whole stage including model load and file set-up
  double ratio = 0;               ///< extract / min(forward, decode_all_cores)
  int64_t peak_rss_bytes = 0;     ///< of this process after all runs
  std::string backbone;           ///< Backbone::describe()
  /// One JSON object of all the figures.
  std::string json() const;
};

/// Runs the three measurements on one rank (comm.size() must be 1: run
/// `distclust extract` under mpirun for multi-rank rates). p.out receives the
/// extract run's file.
BenchExtractResult bench_extract(const ExtractParams& p, const BenchExtractParams& b, Communicator& comm,
                                 const BackboneLoader& loader);

}  // namespace distclust
