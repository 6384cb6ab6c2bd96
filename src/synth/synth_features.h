// `distclust synth features`: a Gaussian mixture on the unit sphere, written
// as a features file with /labels. Row i depends only on (seed, i).
#pragma once

#include <string>

#include "extract/features_file.h"

namespace distclust {

/// Parameters of `distclust synth features` (YAML section `synth_features`).
struct SynthFeaturesParams {
  int64_t n = 10000;           ///< rows
  int d = 64;                  ///< dimension
  int k = 10;                  ///< mixture components (labels 0..k-1)
  double noise = 0.1;          ///< noise: std-dev of the noise vector's norm (per-dimension std noise/sqrt(d))
  int64_t seed = 1;            ///< random seed
  std::string out = "features.h5";  ///< output file
  bool half = false;           ///< store /features as float16
  bool force = false;          ///< replace an existing --out that distclust did not write, or that another command wrote (io/replace_rule.h)
  template <class V> void visit(V& v) {
    v("n", n, "number of rows");
    v("d", d, "feature dimension");
    v("k", k, "number of mixture components (classes)");
    v("noise", noise, "norm of the noise vector (per-dimension std = noise/sqrt(d)); centres are unit vectors");
    v("seed", seed, "random seed");
    v("out", out, "output features.h5");
    v("half", half, "store features as float16");
    v("force", force, "replace an existing --out that distclust did not write, or that another command wrote");
  }
  void validate() const;
};

/// This rank's block of the mixture: rows row_block(n, rank, size), unit-norm
/// centre of class c plus noise, normalised; class of row i is a keyed draw.
/// `section` names n and d in the memory error (bench makes its data here:
/// its keys are bench_knn.n, bench_kmeans.n).
FeatureBlock synth_features(const SynthFeaturesParams& p, int rank, int size,
                            const std::string& section = "synth_features");

}  // namespace distclust
