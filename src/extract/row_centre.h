// The centre an L2 stage subtracts from the rows before it measures
// distances. Every L2 kernel scores |x|^2 - 2 x.c + |c|^2 in float (the GEMM
// form); when the rows sit far from the origin compared with their spread,
// the three terms nearly cancel and their rounding outgrows the distances:
// rows 1e4 from the origin with spread 1 gave k-means ARI 0.56 (sklearn,
// which centres, 1.0) and exact kNN recall 0.03. Distances do not change
// under a shift, so kmeans and knn --metric l2 shift such rows by a centre
// near the data, and gmm its k-means start. kmeans.h5 then holds the
// centroids in the file's coordinates and the centre in /centre; assign and
// the k-means confidence shift rows and centroids by it as the run did, so
// that assign on the run's rows gives its /assign bit for bit.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "distclust/comm.h"
#include "extract/features_file.h"

namespace distclust {

/// The centre [D] L2 work on b needs: the coordinate-wise median of a keyed
/// sample of up to 1025 valid rows (the same on any rank count:
/// extract/row_sample.h; one far-out row does not move it, as it would a mean)
/// when the rows sit far from the origin compared with their spread
/// (|median|^2 over 100 times the sample's median |x - median|^2: the
/// GEMM form's rounding is then over ~1e-5 of the distances). Else empty:
/// rows nearer the origin are left exactly as they are. Collective.
std::vector<float> l2_centre(const FeatureBlock& b, Communicator& comm);

/// centre_rows(b, l2_centre(b, comm)), said in the log under `stage` when
/// it happens: what kmeans and knn --metric l2 do first. Collective.
void centre_far_rows(FeatureBlock& b, Communicator& comm, const std::string& stage);

/// Subtracts `centre` [D] from every row of b (invalid rows too: never read
/// as values) and records it in b.centre. Nothing for an empty centre.
void centre_rows(FeatureBlock& b, const std::vector<float>& centre);

/// rows [n x d] -= centre [d], in float as centre_rows subtracts it: a
/// file's centroids into a centred block's coordinates, and a piece of rows
/// read later (the k-means confidence) exactly as the run's rows were.
/// Nothing for an empty centre.
void subtract_centre(float* rows, int64_t n, int64_t d, const std::vector<float>& centre);

/// rows [n x d] += centre [d], in double and rounded once: centroids or
/// means back into the file's coordinates. Nothing for an empty centre.
void add_centre(float* rows, int64_t n, int64_t d, const std::vector<float>& centre);
void add_centre(double* rows, int64_t n, int64_t d, const std::vector<float>& centre);

}  // namespace distclust
