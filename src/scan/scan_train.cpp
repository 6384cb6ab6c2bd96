// SCAN epochs: every valid row is an anchor once an epoch, paired with a
// neighbour drawn from its kNN list; per step each rank runs the heads on
// its own anchors of the global batch, the batch-mean prediction (entropy
// term) and the gradients are summed over ranks, and every rank takes the
// same Adam step (scan_step.h).
#include <algorithm>
#include <chrono>

#include "core/fault.h"
#include "distclust/log.h"
#include "distclust/progress.h"
#include "distclust/rng.h"
#include "scan/scan_keys.h"
#include "scan/scan_run.h"

namespace distclust {
namespace {

using Clock = std::chrono::steady_clock;

double tick(Clock::time_point& t) {
  const auto now = Clock::now();
  const double s = std::chrono::duration<double>(now - t).count();
  t = now;
  return s;
}

/// out[j] += sum over rows i (in order) of x[i*w + j]; parallel over columns.
void column_sums(const float* x, int64_t rows, int64_t w, double* out) {
  const int64_t blk = 512, nb = (w + blk - 1) / blk;
#pragma omp parallel for schedule(static) if (rows * w > 65536)
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t i = 0; i < rows; ++i) {
      const float* r = x + i * w;
      for (int64_t j = b * blk; j < std::min(w, (b + 1) * blk); ++j) out[j] += r[j];
    }
}

/// An epoch's draws: the batch of each valid row and its neighbour, keyed by
/// (seed, epoch, row); the rows grouped by batch.
struct EpochDraws {
  Buckets batches;
  std::vector<int64_t> partner;  ///< [own rows] global row paired with each anchor (-1: invalid row)
  int64_t fetched = 0;           ///< rows received from other ranks (exchange mode)
};

EpochDraws draw_epoch(ScanRun& r, int e, int64_t nb) {
  const ScanParams& p = r.p;
  ScanData& s = r.data;
  EpochDraws d;
  std::vector<int64_t> batch_of(s.my_rows.size());
  d.partner.assign(size_t(s.local_rows()), -1);
  for (size_t q = 0; q < s.my_rows.size(); ++q) {
    const int64_t i = s.my_rows[q], g = s.own.begin + i;
    batch_of[q] = int64_t(key_hash(uint64_t(p.seed), kBatchKey ^ uint64_t(e), uint64_t(g)) % uint64_t(nb));
    const int32_t cnt = s.nbr_count[i];
    d.partner[i] = cnt == 0 ? g
                            : s.nbr[i * s.kuse + int64_t(key_hash(uint64_t(p.seed), kNeighbourKey ^ uint64_t(e),
                                                                  uint64_t(g)) % uint64_t(cnt))];
  }
  if (!s.replicate) {
    std::vector<int64_t> need;
    need.reserve(s.my_rows.size());
    for (int64_t i : s.my_rows) need.push_back(d.partner[i]);
    d.fetched = s.rows.fetch(need, r.comm);
  }
  d.batches = bucket(s.my_rows, batch_of, nb);
  return d;
}

/// Wall time per phase of an epoch's steps (for the log and the benchmark).
struct StepTimes {
  double gather = 0, fwd = 0, bwd = 0, comm = 0, adam = 0;
};

/// Work buffers of the steps (kept across steps and epochs).
struct StepBuffers {
  std::vector<float> x, z, dz;
  std::vector<int64_t> g;  // global rows of a step's batch
  std::vector<double> red;
};

/// One step on this rank's anchors of batch b (collective). Adds each head's
/// consistency (over the global batch) and entropy to cons_acc / ent_acc;
/// false when the global batch is empty.
bool scan_step(ScanRun& r, HeadsCompute& heads, const EpochDraws& d, int64_t b, StepBuffers& w,
               StepTimes& t, std::vector<double>& cons_acc, std::vector<double>& ent_acc) {
  const ScanData& s = r.data;
  const int H = r.p.heads;
  const int64_t C = r.p.clusters, W = heads.width();
  auto tp = Clock::now();
  const int64_t r0 = d.batches.start[b], na = d.batches.start[b + 1] - r0;
  // The anchors' rows, then their partners'.
  w.g.resize(size_t(2 * na));
  for (int64_t q = 0; q < na; ++q) {
    const int64_t i = d.batches.order[r0 + q];
    w.g[q] = s.own.begin + i;
    w.g[na + q] = d.partner[i];
  }
  t.gather += tick(tp);
  // The loss on the heads' device when they offer it (the logits stay
  // there), else on the host from the logits.
  const bool dev = heads.offers_loss();
  w.z.resize(dev ? 0 : size_t(2 * na * W));
  forward_global_rows(heads, s.rows, w.g, w.x, dev ? nullptr : w.z.data(), true);
  // Global batch mean of the anchors' predictions (entropy term) and batch size.
  w.red.assign(size_t(W + 1), 0.0);
  if (dev) {
    heads.probs(na, w.red.data());
  } else {
    softmax_heads(w.z.data(), 2 * na, H, C, w.z.data());
    column_sums(w.z.data(), na, W, w.red.data());
  }
  w.red[W] = double(na);
  t.fwd += tick(tp);
  r.comm.allreduce_sum(w.red.data(), w.red.size());
  t.comm += tick(tp);
  const double bg = w.red[W];
  if (bg == 0) return false;
  for (int64_t j = 0; j < W; ++j) w.red[j] /= bg;
  std::vector<double> ent(H), cons(H, 0.0);
  mean_entropy(w.red.data(), H, C, ent.data());
  if (dev) {
    heads.scan_loss_backward(w.red.data(), bg, r.p.entropy_weight, cons.data());
  } else {
    w.dz.resize(w.z.size());
    scan_loss_grad(w.z.data(), w.z.data() + na * W, na, H, C, w.red.data(), bg, r.p.entropy_weight, w.dz.data(),
                   cons.data());
    heads.backward(w.dz.data());
  }
  t.bwd += tick(tp);
  heads.step(AdamConfig{r.p.lr, r.p.effective_weight_decay()}, &t.comm, &t.adam);
  for (int h = 0; h < H; ++h) {
    cons_acc[h] += cons[h] / bg;
    ent_acc[h] += ent[h];
  }
  return true;
}

/// Appends epoch e's mean losses per head to the histories and logs them.
void end_epoch(ScanRun& r, int e, int64_t steps, std::vector<double>& cons_acc, const std::vector<double>& ent_acc,
               const EpochDraws& d, const StepTimes& t, double secs) {
  const int H = r.p.heads;
  ScanState& st = r.st;
  r.comm.allreduce_sum(cons_acc.data(), cons_acc.size());
  const double sd = double(std::max<int64_t>(1, steps));
  for (int h = 0; h < H; ++h) {
    const double c = cons_acc[h] / sd, en = ent_acc[h] / sd;
    st.consistency.push_back(c);
    st.entropy.push_back(en);
    st.loss.push_back(c - r.p.entropy_weight * en);
  }
  const double* last = st.loss.data() + size_t(e) * H;
  const int best = lowest_finite(last, H);
  // Every head NaN or inf: the parameters are too, and so would be every
  // probability written (an lr of 1e300 did that and exited 0).
  require(best >= 0, "scan: the loss of every head is ", last[0], " after epoch ", e + 1,
          ": training diverged; lower scan.lr (now ", r.p.lr, "), scan.entropy_weight (now ", r.p.entropy_weight,
          ") or scan.weight_decay (now ", r.p.effective_weight_decay(), "), or scale the features");
  r.res.epoch_seconds.push_back(secs);
  auto [mn, mx] = std::minmax_element(last, last + H);
  log::detail("scan: epoch ", e + 1, "/", r.epochs, ": loss ", last[best], " (head ", best, ": consistency ",
            st.consistency[size_t(e) * H + best], ", entropy ", st.entropy[size_t(e) * H + best], "; heads ", *mn,
            "..", *mx, "), ", steps, " steps, ", secs, " s, ", double(r.data.n_valid) / secs, " rows/s",
            r.data.replicate ? std::string() : fmt(", ", r.comm.sum(d.fetched), " rows fetched"));
  log::detail("scan: epoch ", e + 1, " time on this rank: draws+gather ", t.gather, " s, forward ", t.fwd,
            " s, backward ", t.bwd, " s, allreduce ", t.comm, " s, adam ", t.adam, " s");
}

}  // namespace

void train_epochs(ScanRun& r, ScanHeads& heads) {
  const std::unique_ptr<HeadsCompute> hc = heads_compute(heads, r.comm, &r.data.rows);
  log::info("scan: heads compute on ", hc->describe());
  const int H = r.p.heads;
  const int64_t nb = r.steps_per_epoch;
  const int first_epoch = r.st.phase == 0 ? r.st.next_epoch : r.epochs;
  Progress progress("scan", "steps", nb * (r.epochs - first_epoch), r.comm.rank() == 0);
  StepBuffers w;
  // Epochs extended for min_steps are short (one step each at 200 rows):
  // a checkpoint every `every` epochs keeps their number near p.epochs.
  const int every = std::max(1, r.epochs / r.p.epochs);
  for (int e = first_epoch; e < r.epochs; ++e) {
    const auto t0 = Clock::now();
    const EpochDraws d = draw_epoch(r, e, nb);
    std::vector<double> cons_acc(H, 0.0), ent_acc(H, 0.0);
    StepTimes t;
    t.gather = std::chrono::duration<double>(Clock::now() - t0).count();
    int64_t steps = 0;
    for (int64_t b = 0; b < nb; ++b) {
      if (!scan_step(r, *hc, d, b, w, t, cons_acc, ent_acc)) continue;
      ++steps;
      progress.update((e - first_epoch) * nb + b + 1);
    }
    progress.finish();
    r.st.scan_steps += steps;
    end_epoch(r, e, steps, cons_acc, ent_acc, d, t, std::chrono::duration<double>(Clock::now() - t0).count());
    r.st.phase = 0;
    r.st.next_epoch = e + 1;
    if ((e + 1) % every == 0 || e + 1 == r.epochs) r.save(heads, *hc);
    fault_point("DISTCLUST_FAULT_AFTER_EPOCHS", ++r.epochs_here, &r.comm);
  }
  store_heads(*hc, heads);
}

}  // namespace distclust
