// gmm.h5, the output of `distclust gmm` (README "Outputs reference"):
// written here only. Rows as in features.h5; /assign, /probabilities and
// /confidence as in scan.h5, so eval, report and export read it as they read
// a scan.h5 (report/clustering.h: a file with /confidence).
//   /assign         [N] int64          the most probable component, -1 for invalid rows
//   /probabilities  [N x K] float32    responsibilities (0 for invalid rows)
//   /confidence     [N] float32        the largest responsibility
//   /means          [K x D] float64
//   /covariances    [K x D x D] (full) or [K x D] (diag) float64, reg_covar included
//   /weights        [K] float64
//   /log_likelihood [iterations] float64  mean log-likelihood per row at each EM iteration of the kept restart
//   /restart_log_likelihood [restarts] float64  final mean log-likelihood of each restart
// Attributes: k, covariance, reg, reg_covar (absolute), final_log_likelihood,
// bic, aic, n_parameters, valid_rows, best_restart, iterations, converged,
// empty_components, and the stage attributes (created_by, stage, params, config_hash).
#pragma once

#include <string>

#include "distclust/comm.h"
#include "extract/features_file.h"
#include "io/rows_identity.h"
#include "gmm/gmm.h"
#include "gmm/gmm_stats.h"

namespace distclust {

/// Writes gmm.h5 (collective).
void write_gmm(const std::string& path, Communicator& comm, const FeatureBlock& data, const RowsIdentity& rows, const GMMResult& r,
               const GMMParams& p, const std::string& params_yaml, const std::string& params_hash);

/// The fitted mixture stored in gmm.h5 (this process reads it). Throws
/// naming the file when a dataset is missing or its shape does not fit.
GMMParamsFit read_gmm_model(const std::string& path);

/// Responsibilities, argmax and confidence of b's local rows under m, as
/// gmm() computed them for its own rows with the kept model (the same
/// E-step): new rows assigned to a fitted mixture. Local. out's arrays:
/// [local rows x k], [local rows], [local rows]; invalid rows: 0, -1, 0.
void gmm_predict(const FeatureBlock& b, const GMMParamsFit& m, const GMMRowOutput& out);

}  // namespace distclust
