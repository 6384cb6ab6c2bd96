// SCAN on one process: recovers a mixture, self-labelling, collapse guard,
// bad inputs named, bit-identical repeats, resume from
// a finished checkpoint, scan.h5 layout. (Exchange == replicate and P-independence: tests/mpi/test_scan_dist.cpp.)
#include <gtest/gtest.h>

#include <algorithm>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/test_common.h"
#include "comm/local_comm.h"
#include "distclust/error.h"
#include "io/h5store.h"
#include "knn/knn.h"
#include "eval/metrics.h"
#include "scan/scan.h"
#include "scan/scan_run.h"
#include "scan/scan_file.h"
#include "synth/synth_features.h"

using namespace distclust;
using test::error_of;

namespace {

std::string tmp(const std::string& name) {
  return (std::string("/tmp/dc-unit-scan-") + std::to_string(::getpid()) + "-") + name;
}

/// Writes features (a k-component mixture) and their exact cosine knn.h5.
struct Files {
  std::string features, knn;
  std::vector<int64_t> labels;
};

Files make_files(const std::string& tag, int64_t n, int d, int k, double noise, int64_t seed = 1,
                 const std::string& hash = "h1", std::vector<uint8_t> valid = {}) {
  LocalCommunicator c;
  SynthFeaturesParams sp;
  sp.n = n, sp.d = d, sp.k = k, sp.noise = noise, sp.seed = seed;
  FeatureBlock b = synth_features(sp, 0, 1);
  if (!valid.empty()) b.valid = valid;
  Files f{tmp(tag + "-features.h5"), tmp(tag + "-knn.h5"), b.labels};
  write_features(f.features, c, b, false, {{"config_hash", hash}});
  KnnParams kp;
  kp.features = f.features;
  kp.k = 10;
  kp.checkpoint = false;
  KnnGraph g = knn_exact(b, kp, c);
  write_knn(f.knn, c, b, g, kp, "", "knnhash");
  return f;
}

ScanParams params(const Files& f, int clusters) {
  ScanParams p;
  p.features = f.features;
  p.knn = f.knn;
  p.clusters = clusters;
  p.heads = 3;
  p.epochs = 15;
  p.batch = 128;
  // What these tests were written for: linear heads, exactly 15 epochs (the
  // gate test compares probabilities bit for bit, which predicting a subset
  // of rows gives only for the linear head).
  p.head = "linear";
  p.min_steps = 0;
  return p;
}

}  // namespace

TEST(Scan, RecoversMixtureAndWritesScanH5) {
  LocalCommunicator c;
  Files f = make_files("mix", 1500, 16, 5, 0.5);
  ScanParams p = params(f, 5);
  p.self_label = true;
  p.self_label_epochs = 3;
  p.threshold = 0.9;
  ScanInputs in;
  ScanResult r = scan(p, c, "", "hash", &in);
  Scores s = score(f.labels, r.assign);
  EXPECT_GE(s.acc, 0.97);
  EXPECT_FALSE(r.collapse) << r.collapse_note;
  EXPECT_TRUE(r.self_labelled) << r.self_label_note;
  EXPECT_EQ(in.features_hash, "h1");
  EXPECT_EQ(in.knn_hash, "knnhash");
  ASSERT_EQ(r.loss.size(), size_t(p.epochs * p.heads));
  EXPECT_EQ(r.self_label_loss.size(), size_t(3));
  // Probabilities are distributions; assign/confidence are their argmax/max.
  for (int64_t i = 0; i < 1500; ++i) {
    double sum = 0, mx = 0;
    int64_t am = 0;
    for (int64_t j = 0; j < 5; ++j) {
      float v = r.probabilities[i * 5 + j];
      sum += v;
      if (v > mx) {
        mx = v;
        am = j;
      }
    }
    ASSERT_NEAR(sum, 1.0, tol::kFloatSum);
    ASSERT_EQ(am, r.assign[i]);
    ASSERT_FLOAT_EQ(float(mx), r.confidence[i]);
  }
  // Prototypes: rows of their cluster, by decreasing confidence.
  for (int64_t cl = 0; cl < 5; ++cl)
    for (int64_t j = 0; j < p.prototypes; ++j) {
      int64_t row = r.prototypes[cl * p.prototypes + j];
      ASSERT_GE(row, 0);
      EXPECT_EQ(r.assign[row], cl);
      if (j > 0) {
        EXPECT_LE(r.confidence[row], r.confidence[r.prototypes[cl * p.prototypes + j - 1]]);
      }
    }
  std::string out = tmp("scan.h5");
  write_scan(out, c, r, p, in, "yaml", "hash");
  H5Reader rd(out, c);
  EXPECT_EQ(rd.info("/probabilities").shape, (std::vector<int64_t>{1500, 5}));
  EXPECT_EQ(rd.info("/assign").dtype, "int64");
  EXPECT_EQ(rd.info("/loss").shape, (std::vector<int64_t>{15, 3}));
  EXPECT_EQ(rd.info("/prototypes").shape, (std::vector<int64_t>{5, 10}));
  EXPECT_EQ(int(rd.attr_double("chosen_head")), r.kept_head);
  EXPECT_EQ(int(rd.attr_double("collapse")), 0);
  EXPECT_EQ(rd.read_all<int64_t>("/assign"), r.assign);
  for (auto& s2 : {out, f.features, f.knn}) std::remove(s2.c_str());
}

TEST(Scan, RepeatedRunsAreBitIdentical) {
  LocalCommunicator c;
  Files f = make_files("rep", 700, 8, 4, 0.6);
  ScanParams p = params(f, 4);
  p.head = "mlp";
  p.hidden = 16;
  ScanResult a = scan(p, c), b = scan(p, c);
  EXPECT_EQ(a.probabilities, b.probabilities);
  EXPECT_EQ(a.loss, b.loss);
  std::remove(f.features.c_str());
  std::remove(f.knn.c_str());
}

TEST(Scan, TwoClustersOverThreeComponentsIsNotACollapse) {
  // C = 2 on three equal, well-separated components: the natural split is
  // 2/3 + 1/3, above the "half the rows" bar used for C > 2 but a real
  // clustering, so at C = 2 the bar is three quarters.
  LocalCommunicator c;
  Files f = make_files("c2", 900, 8, 3, 0.3);
  ScanParams p = params(f, 2);
  ScanResult r = scan(p, c);
  const int64_t big = *std::max_element(r.cluster_sizes.begin(), r.cluster_sizes.end());
  EXPECT_GT(2 * big, r.n_valid) << "expected one cluster above half the rows";
  EXPECT_FALSE(r.collapse) << r.collapse_note;
  std::remove(f.features.c_str());
  std::remove(f.knn.c_str());
}

TEST(Scan, CollapseGuardFires) {
  LocalCommunicator c;
  Files f = make_files("col", 600, 8, 4, 0.6);
  ScanParams p = params(f, 4);
  p.entropy_weight = 0;  // nothing holds the clusters apart
  p.epochs = 20;
  ScanResult r = scan(p, c);
  EXPECT_TRUE(r.collapse);
  EXPECT_NE(r.collapse_note.find("clusters are empty"), std::string::npos) << r.collapse_note;
  std::remove(f.features.c_str());
  std::remove(f.knn.c_str());
}

TEST(Scan, MemoryCheckCountsWhatTrainingHolds) {
  // Measured peak (/usr/bin/time -v) of scan --hidden 65536 --batch 16 on
  // 2000 x 64 features, one rank: 2.18 GiB (0.06 of it the process before
  // any data). ScanHeads' own check (weights, gradients, Adam: 0.73 GiB)
  // passed a job at hidden=1e6 that was then OOM-killed at 23.5 GiB.
  ScanParams p;
  p.head = "mlp", p.hidden = 65536, p.heads = 10, p.clusters = 10, p.batch = 16;
  const double gib = 1024.0 * 1024.0 * 1024.0, measured = 2.18 * gib - 0.06 * gib;
  const double one = scan_memory_bytes(p, 64, 2000, 1);
  EXPECT_GE(one, 0.9 * measured);
  EXPECT_LE(one, 1.3 * measured);
  EXPECT_GT(scan_memory_bytes(p, 64, 2000, 2), one) << "the allreduce's buffers";
  p.checkpoint = false;
  EXPECT_LT(scan_memory_bytes(p, 64, 2000, 1), one) << "no checkpoint copy";
}

TEST(Scan, BadInputsAreNamed) {
  LocalCommunicator c;
  Files f = make_files("bad", 300, 8, 3, 0.5, 1, "hashA");
  Files g = make_files("bad2", 400, 8, 3, 0.5);
  Files h = make_files("bad3", 300, 8, 3, 0.5, 2, "hashB");
  ScanParams p = params(f, 3);
  // Row counts differ.
  p.knn = g.knn;
  EXPECT_NE(error_of([&] { scan(p, c); }).find("has 300 rows but " + g.knn + " has 400 rows"), std::string::npos)
      << error_of([&] { scan(p, c); });
  // Same row count, other features (config_hash differs).
  p.knn = h.knn;
  std::string e = error_of([&] { scan(p, c); });
  EXPECT_NE(e.find("was built from features hashB but"), std::string::npos) << e;
  EXPECT_NE(e.find("is now hashA: the files do not belong together"), std::string::npos) << e;
  p.knn = f.knn;
  // C < 2, C > valid rows.
  p.clusters = 1;
  EXPECT_NE(error_of([&] { scan(p, c); }).find("scan.clusters: 1 must be >= 2"), std::string::npos);
  p.clusters = 301;
  EXPECT_NE(error_of([&] { scan(p, c); }).find("clusters=301 exceeds the number of valid rows (300 of 300"),
            std::string::npos);
  // Knn file that is not one.
  p.clusters = 3;
  p.knn = f.features;
  EXPECT_NE(error_of([&] { scan(p, c); }).find("has no /indices dataset"), std::string::npos);
  // All rows invalid (the knn.h5 of the same rows while they were valid).
  Files z = make_files("bad4", 50, 8, 3, 0.5, 1, "h");
  {
    SynthFeaturesParams sp;
    sp.n = 50, sp.d = 8, sp.k = 3, sp.noise = 0.5, sp.seed = 1;
    FeatureBlock b = synth_features(sp, 0, 1);
    b.valid.assign(50, 0);
    write_features(z.features, c, b, false, {{"config_hash", "h"}});
  }
  ScanParams q = params(z, 3);
  EXPECT_NE(error_of([&] { scan(q, c); }).find("all 50 rows are invalid"), std::string::npos);
  for (auto* x : {&f, &g, &h, &z}) {
    std::remove(x->features.c_str());
    std::remove(x->knn.c_str());
  }
}

TEST(Scan, InvalidRowsAreNeitherAnchorsNorNeighbours) {
  LocalCommunicator c;
  std::vector<uint8_t> valid(800, 1);
  for (int i = 0; i < 800; i += 7) valid[i] = 0;
  Files f = make_files("inv", 800, 8, 4, 0.5, 3, "h", valid);
  ScanParams p = params(f, 4);
  p.epochs = 30;
  ScanResult r = scan(p, c);
  int64_t nv = 0;
  for (int i = 0; i < 800; ++i) {
    if (!valid[i]) {
      EXPECT_EQ(r.assign[i], -1);
      EXPECT_EQ(r.confidence[i], 0.f);
    } else {
      ++nv;
      EXPECT_GE(r.assign[i], 0);
    }
  }
  EXPECT_EQ(r.n_valid, nv);
  int64_t total = 0;
  for (auto s : r.cluster_sizes) total += s;
  EXPECT_EQ(total, nv);
  EXPECT_GE(score(f.labels, r.assign).acc, 0.95);
  std::remove(f.features.c_str());
  std::remove(f.knn.c_str());
}

TEST(Scan, ResumingFromAFinishedCheckpointGivesTheSameResult) {
  LocalCommunicator c;
  Files f = make_files("ck", 500, 8, 3, 0.5);
  ScanParams p = params(f, 3);
  p.self_label = true;
  p.self_label_epochs = 2;
  p.threshold = 0.8;
  std::string ck = tmp("scan.ckpt");
  ScanResult a = scan(p, c, ck, "key");
  ScanResult b = scan(p, c, ck, "key");
  EXPECT_FALSE(a.resumed);
  EXPECT_TRUE(b.resumed);
  EXPECT_EQ(a.probabilities, b.probabilities);
  EXPECT_EQ(a.loss, b.loss);
  EXPECT_EQ(a.self_label_loss, b.self_label_loss);
  EXPECT_EQ(a.assign_scan, b.assign_scan);  // the pre-self-label head comes back from the checkpoint
  // The assignment before self-labelling is what SCAN alone gives.
  ScanParams plain = p;
  plain.self_label = false;
  ScanResult s = scan(plain, c);
  EXPECT_EQ(s.assign, a.assign_scan);
  EXPECT_TRUE(s.assign_scan.empty());
  // Another key: the checkpoint is ignored.
  ScanResult d = scan(p, c, ck, "other");
  EXPECT_FALSE(d.resumed);
  EXPECT_EQ(a.probabilities, d.probabilities);
  for (auto& s : {ck, f.features, f.knn}) std::remove(s.c_str());
}

TEST(Scan, SelfLabellingWithoutConfidentRowsIsSkipped) {
  LocalCommunicator c;
  Files f = make_files("noconf", 400, 8, 4, 1.5);
  ScanParams p = params(f, 4);
  p.epochs = 2;
  p.self_label = true;
  p.threshold = 0.999999;
  ScanResult r = scan(p, c);
  EXPECT_FALSE(r.self_labelled);
  EXPECT_NE(r.self_label_note.find("no row is confident"), std::string::npos) << r.self_label_note;
  EXPECT_TRUE(r.self_label_loss.empty());
  std::remove(f.features.c_str());
  std::remove(f.knn.c_str());
}

// The neighbour gate (scan_gate.h) acts on the final assignment only: the
// self-labelled head is the same with and without it, every gated row ends
// either where self-labelling put it or where SCAN had it, and a row whose
// move is turned down carries the SCAN head's probabilities.
TEST(Scan, SelfLabelGateKeepsOrTurnsDownEachMove) {
  LocalCommunicator c;
  Files f = make_files("gate", 1200, 8, 6, 1.3);
  ScanParams p = params(f, 6);
  p.self_label = true;
  p.self_label_epochs = 5;
  p.self_label_lr = 1e-2;  // large on purpose: many moves to judge
  p.threshold = 0.9;
  p.self_label_gate = false;
  const ScanResult raw = scan(p, c);
  p.self_label_gate = true;
  const ScanResult gated = scan(p, c);
  p.self_label = false;
  const ScanResult plain = scan(p, c);

  ASSERT_EQ(raw.assign_scan, gated.assign_scan);
  EXPECT_EQ(gated.assign_scan, plain.assign);
  EXPECT_EQ(raw.self_label_loss, gated.self_label_loss);
  EXPECT_EQ(raw.self_label_proposed, raw.self_label_moved);
  EXPECT_EQ(raw.self_label_rejected, 0);
  EXPECT_EQ(gated.self_label_proposed, raw.self_label_moved);
  ASSERT_GT(gated.self_label_rejected, 0) << "the data should give the gate moves to turn down";
  ASSERT_GT(gated.self_label_moved, 0) << "the data should give the gate moves to keep";
  EXPECT_EQ(gated.self_label_moved, gated.self_label_proposed - gated.self_label_rejected);
  int64_t kept = 0, turned_down = 0;
  for (size_t i = 0; i < gated.assign.size(); ++i) {
    const int64_t s = gated.assign_scan[i], r = raw.assign[i], g = gated.assign[i];
    if (r == s) {
      EXPECT_EQ(g, s) << "row " << i << " was not moved by self-labelling";
    } else if (g == r) {
      ++kept;
    } else {
      ASSERT_EQ(g, s) << "row " << i << " is neither where SCAN nor where self-labelling put it";
      ++turned_down;
      for (int64_t j = 0; j < 6; ++j)
        EXPECT_EQ(gated.probabilities[i * 6 + j], plain.probabilities[i * 6 + j]) << "row " << i;
    }
  }
  EXPECT_EQ(kept, gated.self_label_moved);
  EXPECT_EQ(turned_down, gated.self_label_rejected);
  std::remove(f.features.c_str());
  std::remove(f.knn.c_str());
}
