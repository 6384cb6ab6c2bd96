// SCAN across ranks (scan.h): the phases in order (scan_run.h).
#include "scan/scan.h"

#include <algorithm>
#include <cmath>

#include "distclust/error.h"
#include "distclust/log.h"
#include "distclust/rng.h"
#include "distclust/runtime.h"
#include "io/state_file.h"
#include "scan/scan_keys.h"
#include "scan/scan_run.h"

namespace distclust {

void ScanParams::validate() const {
  require(clusters >= 2, "scan.clusters: ", clusters, " must be >= 2 (one cluster needs no training)");
  // Each head multiplies the memory of a batch's activations and the time of
  // a step; SCAN uses 10.
  require(heads >= 1 && heads <= 1000, "scan.heads: ", heads, " must be in [1, 1000]");
  require(head == "linear" || head == "mlp", "scan.head: '", head, "' is not one of linear|mlp");
  require(hidden >= 1, "scan.hidden: ", hidden, " must be >= 1");
  require(epochs >= 1, "scan.epochs: ", epochs, " must be >= 1");
  require(min_steps >= 0 && min_steps <= 10000000, "scan.min_steps: ", min_steps, " must be in [0, 1e7]");
  require(batch >= 1, "scan.batch: ", batch, " must be >= 1");
  require(lr > 0, "scan.lr: ", lr, " must be > 0");
  require(weight_decay >= 0 || weight_decay == -1, "scan.weight_decay: ", weight_decay, " must be >= 0 (or -1: auto)");
  require(entropy_weight >= 0, "scan.entropy_weight: ", entropy_weight, " must be >= 0");
  require(neighbours >= 0, "scan.neighbours: ", neighbours, " must be >= 0 (0 = all)");
  require(threshold > 0 && threshold < 1, "scan.threshold: ", threshold, " must be in (0, 1)");
  require(self_label_lr > 0, "scan.self_label_lr: ", self_label_lr, " must be > 0");
  require(self_label_epochs >= 0, "scan.self_label_epochs: ", self_label_epochs, " must be >= 0");
  require(prototypes >= 0, "scan.prototypes: ", prototypes, " must be >= 0");
  require(neighbour_features == "auto" || neighbour_features == "replicate" || neighbour_features == "exchange",
          "scan.neighbour_features: '", neighbour_features, "' is not one of auto|replicate|exchange");
  require(memory_budget >= 0, "scan.memory_budget: ", memory_budget, " GiB must be >= 0");
  require(memory_budget <= 1048576, "scan.memory_budget: ", memory_budget,
          " is in GiB (", memory_budget, " GiB is more than a PiB): for 12 GiB write 12, not a byte count");
}

void ScanRun::save(ScanHeads& h, HeadsCompute& c) {
  if (ckpt.empty()) return;
  store_heads(c, h);
  st.params = h.params();
  st.m = h.adam_m();
  st.v = h.adam_v();
  st.adam_step = h.adam_step();
  save_state(ckpt, st, comm);
}

namespace {

/// The checkpoint, when there is one made with these settings and inputs;
/// SCAN-phase parameters go into the heads.
void resume(ScanRun& r, ScanHeads& heads) {
  const std::string key = r.st.key;
  auto usable = [&](const ScanState& s) -> std::string {
    if (s.key != key) return fmt("made with other parameters or inputs (", s.key, " != ", key, ")");
    if (s.phase == 0 && s.next_epoch > r.epochs)
      return fmt("made by a run of more epochs (", s.next_epoch, " done, ", r.epochs, " planned)");
    return "";
  };
  if (r.ckpt.empty() || !load_state<ScanState>(r.ckpt, r.st, r.comm, usable)) return;
  r.res.resumed = true;
  log::info("scan: resuming from ", r.ckpt, " after ", r.st.next_epoch,
            r.st.phase == 0 ? " SCAN" : " self-labelling", " epochs");
  require(r.st.heads == r.p.heads, r.ckpt, ": checkpoint has ", r.st.heads, " heads, expected ", r.p.heads);
  if (r.st.phase != 0) return;
  require(r.st.params.size() == heads.num_params(), r.ckpt, ": checkpoint holds ", r.st.params.size(),
          " parameters, expected ", heads.num_params());
  heads.params() = r.st.params;
  heads.adam_m() = r.st.m;
  heads.adam_v() = r.st.v;
  heads.adam_step() = r.st.adam_step;
}

/// The head with the lowest total loss in the last SCAN epoch.
int keep_head(ScanRun& r) {
  const int H = r.p.heads;
  const double* last = r.st.loss.data() + size_t(r.epochs - 1) * H;
  const int kept = r.st.phase == 0 ? lowest_finite(last, H) : r.st.kept_head;
  r.st.kept_head = kept;
  r.res.kept_head = kept;
  log::info("scan: kept head ", kept, " (lowest total loss ", last[kept], " in the last epoch)");
  return kept;
}

/// The SCAN epochs to run: p.epochs, extended when they are fewer than
/// p.min_steps optimiser steps. Depends only on the settings and the valid
/// row count, so every rank count runs the same epochs.
void plan_epochs(ScanRun& r) {
  const ScanParams& p = r.p;
  r.steps_per_epoch = (r.data.n_valid + p.batch - 1) / p.batch;
  const int64_t need = (p.min_steps + r.steps_per_epoch - 1) / r.steps_per_epoch;
  r.epochs = int(std::max<int64_t>(p.epochs, need));
  const int64_t steps = int64_t(r.epochs) * r.steps_per_epoch;
  if (r.epochs > p.epochs)
    log::info("scan: ", r.data.n_valid, " rows at batch ", p.batch, " are ", r.steps_per_epoch,
              " optimiser steps an epoch: ", p.epochs, " epochs would be ", int64_t(p.epochs) * r.steps_per_epoch,
              " steps, fewer than --min-steps ", p.min_steps, "; running ", r.epochs, " epochs (", steps, " steps)");
  else
    log::detail("scan: ", r.epochs, " epochs x ", r.steps_per_epoch, " steps = ", steps, " optimiser steps (--min-steps ",
              p.min_steps, ")");
}

}  // namespace

double scan_memory_bytes(const ScanParams& p, int64_t d, int64_t local_rows, int ranks) {
  const double H = p.heads, C = p.clusters, D = double(d), Hd = p.hidden;
  const bool mlp = p.head == "mlp";
  const double params = mlp ? H * (Hd * (D + 1) + C * (Hd + 1)) : H * C * (D + 1);
  const double copies = 4 + (p.checkpoint ? 3 : 0) + (ranks > 1 ? 2 : 0);
  const double width = mlp ? Hd : C;  // a row's activations per head
  const double step_rows = 2.0 * std::ceil(double(p.batch) / std::max(ranks, 1));
  const double predict_rows = double(std::min<int64_t>(4096, std::max<int64_t>(local_rows, 1)));
  return 4.0 * (params * copies + 2 * step_rows * H * width + predict_rows * width + 4 * params / H);
}

ScanResult scan(const ScanParams& p, Communicator& comm, const std::string& ckpt, const std::string& params_hash,
                ScanInputs* inputs_out) {
  p.validate();
  ScanRun r{p, comm, load_scan_data(p, comm), {}, {}, ckpt};
  if (inputs_out) *inputs_out = r.data.inputs;
  ScanResult& res = r.res;
  res.neighbour_mode = r.data.replicate ? "replicate" : "exchange";
  res.n_total = r.data.n;
  res.clusters = p.clusters;
  res.rows = r.data.own;
  res.n_valid = r.data.n_valid;
  res.rows_no_neighbour = r.data.lonely;
  // /prototypes is [C x prototypes], -1 padded: more per cluster than there
  // are rows is padding only, and 1e9 allocated C x 8 GB after all the
  // training (a bare std::bad_alloc, the checkpoint left).
  require(p.prototypes <= r.data.n, "scan.prototypes: ", p.prototypes, " exceeds the ", r.data.n,
          " rows of ", p.features, " (it is rows per cluster, best first): give at most ", r.data.n);

  plan_epochs(r);
  require_memory(scan_memory_bytes(p, r.data.d, r.data.local_rows(), comm.size()),
                 fmt("scan training (scan.heads=", p.heads, ", scan.head=", p.head,
                     p.head == "mlp" ? fmt(", scan.hidden=", p.hidden) : std::string(), ", D=", r.data.d,
                     ", C=", p.clusters, ", scan.batch=", p.batch, p.checkpoint ? ", checkpointed" : "",
                     "): the heads' weights, gradients, Adam moments, checkpoint copy and activations"));
  ScanHeads heads(HeadShape{p.head, r.data.d, p.clusters, p.hidden, p.heads});
  heads.init(key_hash(uint64_t(p.seed), kInitKey));
  // The epochs run follow from hashed settings (epochs, min_steps, batch)
  // and the features' identity (valid rows), so params_hash covers them;
  // and the state after epoch e does not depend on how many epochs follow
  // (constant lr, draws keyed by epoch): a checkpoint is a prefix of any
  // longer run. One from a longer run is refused in resume().
  r.st.key = fmt(params_hash, "|N=", r.data.n, "|D=", r.data.d, "|k=", r.data.k_file, "|P-independent");
  r.st.heads = p.heads;
  resume(r, heads);

  train_epochs(r, heads);
  ScanHeads one = heads.extract(keep_head(r));
  if (p.self_label && p.self_label_epochs > 0)
    self_label(r, one);
  else
    res.self_label_note = "not run";
  res.epochs_run = r.epochs;
  res.steps_per_epoch = r.steps_per_epoch;
  res.steps = r.st.scan_steps;
  final_assignment(r, one);
  pick_prototypes(r);
  // The model `distclust assign` applies to new rows (scan.h5 /head, /head_scan).
  res.d = r.data.d;
  res.head = one.params();
  if (p.self_label && p.self_label_epochs > 0 && p.self_label_gate) res.head_scan = r.st.scan_head;

  res.loss = r.st.loss;
  res.consistency = r.st.consistency;
  res.entropy = r.st.entropy;
  res.self_label_loss = r.st.sl_loss;
  res.self_label_confident = r.st.sl_confident;
  check_health(r);
  return std::move(res);
}

}  // namespace distclust
