// Self-labelling (SCAN's second step) on the kept head: rows whose top
// probability passes the threshold become pseudo-labels; the head is trained
// with a class-balanced cross-entropy on a neighbour of each confident row
// (the kNN graph stands in for SCAN's strong augmentation).
#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/fault.h"
#include "distclust/log.h"
#include "distclust/rng.h"
#include "scan/scan_keys.h"
#include "scan/scan_run.h"

namespace distclust {
namespace {

using Clock = std::chrono::steady_clock;

std::string join_counts(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? " " : "") + std::to_string(v[i]);
  return s;
}

/// An epoch's pseudo-labels: y [own rows] (-1 = not confident), confident
/// rows per cluster (all ranks), their total and the clusters that have any.
struct PseudoLabels {
  std::vector<int64_t> y, per;
  int64_t n_conf = 0, present = 0;
};

PseudoLabels pseudo_labels(ScanRun& r, const std::vector<float>& prob) {
  const int64_t C = r.p.clusters;
  PseudoLabels pl;
  pl.y.assign(size_t(r.data.local_rows()), -1);
  std::vector<double> cnt(size_t(C), 0.0);
  for (int64_t i : r.data.my_rows) {
    const float* pi = prob.data() + i * C;
    const int64_t a = std::max_element(pi, pi + C) - pi;
    pl.y[i] = pi[a] > r.p.threshold ? a : -1;
    if (pl.y[i] >= 0) cnt[a] += 1;
  }
  r.comm.allreduce_sum(cnt.data(), cnt.size());
  pl.per.resize(size_t(C));
  for (int64_t c = 0; c < C; ++c) {
    pl.per[c] = int64_t(cnt[c]);
    pl.n_conf += pl.per[c];
    pl.present += pl.per[c] > 0;
  }
  return pl;
}

void log_confident(ScanRun& r, int e, const PseudoLabels& pl) {
  const int64_t C = r.p.clusters;
  log::detail("scan: self-label epoch ", e + 1, "/", r.p.self_label_epochs, ": ", pl.n_conf, " of ", r.data.n_valid,
            " rows confident (> ", r.p.threshold, "), in ", pl.present, " of ", C, " clusters");
  if (e == 0 || C <= 64) log::detail("scan: confident rows per cluster: ", join_counts(pl.per));
  if (e == 0 && pl.present < C && r.comm.rank() == 0)
    log::warn("scan: self-labelling: only ", pl.present, " of ", C, " clusters have confident rows (top probability > ",
              r.p.threshold, "); the others get no pseudo-labels and can only lose rows. A lower --threshold gives more.");
}

/// An epoch's batches of confident rows, the neighbour view of each, and
/// the class weights: inverse pseudo-label frequency, mean 1 over confident rows.
struct SelfLabelBatches {
  Buckets bk;
  std::vector<int64_t> view;   ///< [own rows] global row whose features stand for row i
  std::vector<double> wc;      ///< [C]
  std::vector<double> wsum;    ///< [batches] weight of each global batch
};

SelfLabelBatches plan_epoch(ScanRun& r, int e, const PseudoLabels& pl) {
  const ScanParams& p = r.p;
  ScanData& s = r.data;
  const int64_t C = p.clusters;
  SelfLabelBatches sb;
  sb.wc.assign(size_t(C), 0.0);
  for (int64_t c = 0; c < C; ++c)
    if (pl.per[c] > 0) sb.wc[c] = double(pl.n_conf) / (double(pl.present) * double(pl.per[c]));
  const int64_t nbs = (pl.n_conf + p.batch - 1) / p.batch;
  std::vector<int64_t> conf_rows, bo;
  for (int64_t i : s.my_rows)
    if (pl.y[i] >= 0) {
      conf_rows.push_back(i);
      bo.push_back(int64_t(key_hash(uint64_t(p.seed), kSelfLabelKey ^ uint64_t(e), uint64_t(s.own.begin + i)) %
                           uint64_t(nbs)));
    }
  sb.bk = bucket(conf_rows, bo, nbs);
  // Training on the row itself only sharpens what the head already says
  // (measured on MNIST pixels: -0.02..-0.3 points of ACC over 6 seeds; the
  // neighbour view -0.13..+0.16, mean -0.02).
  sb.view.assign(size_t(s.local_rows()), -1);
  std::vector<int64_t> need;
  for (int64_t i : conf_rows) {
    const int64_t g = s.own.begin + i;
    const int32_t cn = s.nbr_count[i];
    sb.view[i] = cn == 0 ? g
                         : s.nbr[i * s.kuse + int64_t(key_hash(uint64_t(p.seed), kSelfLabelKey ^ (uint64_t(e) << 32),
                                                              uint64_t(g)) % uint64_t(cn))];
    need.push_back(sb.view[i]);
  }
  if (!s.replicate) s.rows.fetch(need, r.comm);
  sb.wsum.assign(size_t(nbs), 0.0);
  for (int64_t b = 0; b < nbs; ++b)
    for (int64_t q = sb.bk.start[b]; q < sb.bk.start[b + 1]; ++q) sb.wsum[b] += sb.wc[pl.y[sb.bk.order[q]]];
  r.comm.allreduce_sum(sb.wsum.data(), sb.wsum.size());
  return sb;
}

/// One epoch's steps (collective); returns the mean loss over the steps.
double train_epoch(ScanRun& r, HeadsCompute& one, const PseudoLabels& pl,
                   const SelfLabelBatches& sb, int64_t& steps, double& t_comm, double& t_adam) {
  const int64_t C = r.p.clusters;
  // No weight decay here: on rows the head already predicts with
  // confidence the cross-entropy gradient is tiny, and Adam would turn an
  // L2 term into full-size steps that shrink the head (measured: -4 points
  // of ACC on MNIST pixels at lr 1e-3).
  const AdamConfig adam{r.p.self_label_lr, 0.0};
  std::vector<float> x, z, dz;
  std::vector<int64_t> yb, g;
  double loss = 0;
  for (int64_t b = 0; b + 1 < int64_t(sb.bk.start.size()); ++b) {
    if (sb.wsum[b] <= 0) continue;
    const int64_t r0 = sb.bk.start[b], na = sb.bk.start[b + 1] - r0;
    yb.resize(size_t(na));
    g.resize(size_t(na));
    for (int64_t q = 0; q < na; ++q) {
      const int64_t i = sb.bk.order[r0 + q];
      g[q] = sb.view[i];
      yb[q] = pl.y[i];
    }
    if (one.offers_loss()) {  // the loss on the heads' device
      forward_global_rows(one, r.data.rows, g, x, nullptr, true);
      loss += one.ce_backward(yb.data(), sb.wc.data(), sb.wsum[b]);
    } else {
      z.resize(size_t(na * C));
      dz.resize(z.size());
      forward_global_rows(one, r.data.rows, g, x, z.data(), true);
      softmax_heads(z.data(), na, 1, C, z.data());
      loss += balanced_ce_grad(z.data(), yb.data(), na, C, sb.wc.data(), sb.wsum[b], dz.data());
      one.backward(dz.data());
    }
    one.step(adam, &t_comm, &t_adam);
    ++steps;
  }
  return r.comm.sum(loss) / double(std::max<int64_t>(1, steps));
}

}  // namespace

void self_label(ScanRun& r, ScanHeads& one) {
  ScanState& st = r.st;
  ScanResult& res = r.res;
  // The SCAN assignment before self-labelling, kept to show its effect.
  if (st.phase == 0) st.scan_head = one.params();
  std::vector<float> prob;
  {
    ScanHeads pre = one;
    pre.params() = st.scan_head;
    predict_all(*heads_compute(pre, r.comm, &r.data.rows), r.data, prob);
    res.assign_scan = argmax_rows(r.data, prob, r.p.clusters);
  }
  if (st.phase == 1) {
    one.params() = st.params;
    one.adam_m() = st.m;
    one.adam_v() = st.v;
    one.adam_step() = st.adam_step;
  }
  const std::unique_ptr<HeadsCompute> hc = heads_compute(one, r.comm, &r.data.rows);
  double t_comm = 0, t_adam = 0;  // over all self-labelling epochs (logged with each)
  for (int e = st.phase == 1 ? st.next_epoch : 0; e < r.p.self_label_epochs; ++e) {
    const auto t0 = Clock::now();
    predict_all(*hc, r.data, prob);
    const PseudoLabels pl = pseudo_labels(r, prob);
    if (pl.n_conf == 0) {
      res.self_label_note = fmt("no row is confident (top probability > ", r.p.threshold,
                                ") at self-labelling epoch ", e + 1, ": self-labelling skipped");
      log::warn("scan: ", res.self_label_note);
      break;
    }
    st.sl_confident.push_back(pl.n_conf);
    log_confident(r, e, pl);
    const SelfLabelBatches sb = plan_epoch(r, e, pl);
    int64_t steps = 0;
    const double loss = train_epoch(r, *hc, pl, sb, steps, t_comm, t_adam);
    require(std::isfinite(loss), "scan: the self-labelling loss is ", loss, " at epoch ", e + 1,
            ": training diverged; lower scan.self_label_lr (now ", r.p.self_label_lr, ")");
    st.sl_loss.push_back(loss);
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    res.epoch_seconds.push_back(secs);
    log::detail("scan: self-label epoch ", e + 1, "/", r.p.self_label_epochs, ": balanced cross-entropy ", loss, ", ",
              steps, " steps, ", secs, " s (so far: collectives ", t_comm, " s, adam ", t_adam, " s)");
    res.self_labelled = true;
    st.phase = 1;
    st.next_epoch = e + 1;
    r.save(one, *hc);
    fault_point("DISTCLUST_FAULT_AFTER_EPOCHS", ++r.epochs_here, &r.comm);
  }
  store_heads(*hc, one);
  if (st.phase == 1 && !st.sl_loss.empty()) res.self_labelled = true;
  if (res.self_labelled && res.self_label_note.empty())
    res.self_label_note = fmt(st.sl_loss.size(), " epochs; confident rows ", st.sl_confident.front(), " -> ",
                              st.sl_confident.back(), " of ", r.data.n_valid);
}

}  // namespace distclust
