// SCAN training loop across ranks, self-labelling, final assignment.
#include "scan/scan.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <numeric>

#include "distclust/error.h"
#include "extract/features_file.h"
#include "io/h5store.h"
#include "distclust/log.h"
#include "distclust/progress.h"
#include "distclust/rng.h"
#include "distclust/runtime.h"
#include "scan/scan_heads.h"
#include "scan/scan_checkpoint.h"
#include "scan/scan_gate.h"
#include "scan/scan_rows.h"
#include "scan/scan_step.h"

namespace distclust {

void ScanParams::validate() const {
  require(clusters >= 2, "scan.clusters: ", clusters, " must be >= 2 (one cluster needs no training)");
  require(heads >= 1, "scan.heads: ", heads, " must be >= 1");
  require(head == "linear" || head == "mlp", "scan.head: '", head, "' is not one of linear|mlp");
  require(hidden >= 1, "scan.hidden: ", hidden, " must be >= 1");
  require(epochs >= 1, "scan.epochs: ", epochs, " must be >= 1");
  require(batch >= 1, "scan.batch: ", batch, " must be >= 1");
  require(lr > 0, "scan.lr: ", lr, " must be > 0");
  require(weight_decay >= 0, "scan.weight_decay: ", weight_decay, " must be >= 0");
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

namespace {

// Keys of the random streams (with the seed, epoch and global row).
constexpr uint64_t kInitKey = 0x5CA41417ull;
constexpr uint64_t kBatchKey = 0x5CA4BA7Cull;
constexpr uint64_t kNeighbourKey = 0x5CA4AE16ull;
constexpr uint64_t kSelfLabelKey = 0x5CA45E1Full;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// Test hook: DISTCLUST_FAULT_AFTER_EPOCHS=N kills the job (SIGKILL) once N
/// epochs (SCAN and self-labelling counted together) have been checkpointed
/// by this process.
void maybe_fault(int64_t done, Communicator& comm) {
  static const char* env = std::getenv("DISTCLUST_FAULT_AFTER_EPOCHS");
  if (!env || std::atoll(env) != done) return;
  comm.barrier();
  std::fprintf(stderr, "distclust: DISTCLUST_FAULT_AFTER_EPOCHS=%lld: killing the job\n", (long long)done);
  std::fflush(stderr);
  std::raise(SIGKILL);
}

/// Local rows (indices into the block) grouped by batch: rows of batch b are
/// order[start[b] .. start[b+1]), ascending.
struct Buckets {
  std::vector<int64_t> start, order;
};

Buckets bucket(const std::vector<int64_t>& rows, const std::vector<int64_t>& batch_of, int64_t nb) {
  Buckets bk;
  bk.start.assign(size_t(nb + 1), 0);
  for (int64_t b : batch_of) ++bk.start[b + 1];
  for (int64_t b = 0; b < nb; ++b) bk.start[b + 1] += bk.start[b];
  bk.order.resize(rows.size());
  std::vector<int64_t> pos(bk.start.begin(), bk.start.end() - 1);
  for (size_t i = 0; i < rows.size(); ++i) bk.order[pos[batch_of[i]]++] = rows[i];
  return bk;
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

std::string join_counts(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? " " : "") + std::to_string(v[i]);
  return s;
}

}  // namespace

ScanResult scan(const ScanParams& p, Communicator& comm, const std::string& ckpt, const std::string& params_hash,
                ScanInputs* inputs_out) {
  p.validate();
  require(!p.features.empty(), "scan: no features given (--features features.h5)");
  require(!p.knn.empty(), "scan: no neighbour graph given (--knn knn.h5)");
  check_input_file(p.features, "features file");
  check_input_file(p.knn, "knn file");
  const int R = comm.rank(), P = comm.size();
  const int H = p.heads;
  const int64_t C = p.clusters;

  // ---- inputs and their consistency ----
  ScanInputs inputs;
  int64_t k_file = 0, n_knn = 0;
  std::string knn_features_hash;
  {
    H5Reader kr(p.knn, comm);
    require(kr.has("/indices"), "scan: ", p.knn, " has no /indices dataset: --knn takes the knn.h5 written by `distclust knn`");
    DatasetInfo ki = kr.info("/indices");
    require(ki.shape.size() == 2 && ki.shape[1] >= 1, p.knn, ": /indices is ", ki.describe(),
            ", expected [N x k] (a knn.h5 from `distclust knn`)");
    n_knn = ki.shape[0];
    k_file = ki.shape[1];
    if (kr.has_attr("config_hash")) inputs.knn_hash = kr.attr_string("config_hash");
    if (kr.has_attr("features_config_hash")) knn_features_hash = kr.attr_string("features_config_hash");
  }
  {
    H5Reader fr(p.features, comm);
    if (fr.has_attr("config_hash")) inputs.features_hash = fr.attr_string("config_hash");
  }
  auto [n_feat, d_feat] = features_shape(p.features, comm);
  require(n_feat == n_knn, "scan: ", p.features, " has ", n_feat, " rows but ", p.knn, " has ", n_knn,
          " rows: the kNN graph was not built from these features");
  require(knn_features_hash.empty() || inputs.features_hash.empty() || knn_features_hash == inputs.features_hash,
          "scan: ", p.knn, " was built from features with config_hash ", knn_features_hash, " but ", p.features,
          " has config_hash ", inputs.features_hash, ": the files do not belong together");
  if (inputs_out) *inputs_out = inputs;

  FeatureBlock blk = read_features(p.features, comm);
  check_finite(blk, p.features, comm);
  const int64_t N = blk.n_total, D = blk.d, nloc = blk.local_rows();
  const RowRange own = blk.rows;
  if (p.normalize) normalize_rows(blk);

  // Global validity (every rank: neighbours may be anywhere).
  std::vector<uint8_t> valid = comm.allgather(blk.valid);
  require(int64_t(valid.size()) == N, "scan: internal error: gathered ", valid.size(), " validity flags for ", N,
          " rows");
  int64_t n_valid = 0;
  for (auto v : valid) n_valid += v ? 1 : 0;
  require(n_valid >= 1, "scan: ", p.features, ": all ", N, " rows are invalid (/valid = 0), nothing to cluster");
  require(C <= n_valid, "scan: clusters=", C, " exceeds the number of valid rows (", n_valid, " of ", N, " in ",
          p.features, ")");

  // Neighbour lists of this rank's rows: valid, in range, not the row itself.
  const int64_t kuse = p.neighbours > 0 ? std::min<int64_t>(p.neighbours, k_file) : k_file;
  std::vector<int64_t> nbr(size_t(nloc * kuse));
  std::vector<int32_t> nbr_count(size_t(nloc), 0);
  {
    H5Reader kr(p.knn, comm);
    std::vector<int64_t> idx = kr.read_rows<int64_t>("/indices", own);
    for (int64_t i = 0; i < nloc; ++i) {
      const int64_t g = own.begin + i;
      for (int64_t j = 0; j < kuse; ++j) {
        const int64_t v = idx[i * k_file + j];
        require(v >= -1 && v < N, p.knn, ": /indices row ", g, " column ", j, " holds ", v, ", outside [-1, ", N,
                ")");
        if (v < 0 || v == g || !valid[v] || !blk.valid[i]) continue;
        nbr[i * kuse + nbr_count[i]++] = v;
      }
    }
  }
  std::vector<int64_t> my_rows;  // local indices of valid rows
  for (int64_t i = 0; i < nloc; ++i)
    if (blk.valid[i]) my_rows.push_back(i);
  int64_t lonely = 0;
  for (int64_t i : my_rows) lonely += nbr_count[i] == 0;
  lonely = comm.sum(lonely);
  if (lonely > 0 && R == 0)
    log::warn("scan: ", lonely, " valid rows have no valid neighbour in ", p.knn, " (first ", kuse,
              " columns); they are paired with themselves");

  // Replicate all features on every rank, or fetch the drawn neighbours each epoch.
  const double bytes = double(N) * double(D) * sizeof(float);
  const double budget = p.memory_budget * double(1ull << 30);
  bool replicate = p.neighbour_features == "replicate" || (p.neighbour_features == "auto" && bytes <= budget);
  if (P == 1) replicate = true;  // one rank holds every row anyway
  ScanRows rows(std::move(blk), replicate && P > 1, comm);
  ScanResult res;
  res.neighbour_mode = replicate ? "replicate" : "exchange";
  res.n_total = N;
  res.clusters = C;
  res.rows = own;
  res.n_valid = n_valid;
  res.rows_no_neighbour = lonely;
  log::info("scan: ", p.features, ": ", N, " x ", D, " (", n_valid, " valid), knn ", p.knn, ": k=", k_file,
            " (drawing from ", kuse, "), C=", C, ", ", H, " ", p.head, " heads",
            p.head == "mlp" ? fmt(" (hidden ", p.hidden, ")") : std::string(), ", ", P, " ranks x ",
            compute_threads(), " threads");
  log::info("scan: neighbour features: ",
            replicate ? fmt("replicated on every rank (N*D*4 = ", bytes / double(1ull << 20), " MiB",
                            P == 1 ? ", one rank" : fmt(" <= memory_budget ", p.memory_budget, " GiB"), ")")
                      : fmt("exchanged each epoch (N*D*4 = ", bytes / double(1ull << 20), " MiB",
                            p.neighbour_features == "exchange" ? ", as asked"
                                                               : fmt(" > memory_budget ", p.memory_budget, " GiB"),
                            ")"));

  // ---- heads, state, resume ----
  HeadShape shape{p.head, D, C, p.hidden, H};
  ScanHeads heads(shape);
  const uint64_t seed = key_hash(uint64_t(p.seed), kInitKey);
  heads.init(seed);
  AdamConfig adam{p.lr, p.weight_decay};
  const std::string key = fmt(params_hash, "|N=", N, "|D=", D, "|k=", k_file, "|P-independent");
  ScanState st;
  st.key = key;
  st.heads = H;
  if (!ckpt.empty() && load_scan_state(ckpt, key, st, comm)) {
    res.resumed = true;
    log::info("scan: resuming from ", ckpt, " after ", st.next_epoch, st.phase == 0 ? " SCAN" : " self-labelling",
              " epochs");
    require(st.heads == H, ckpt, ": checkpoint has ", st.heads, " heads, expected ", H);
    if (st.phase == 0) {
      require(st.params.size() == heads.num_params(), ckpt, ": checkpoint holds ", st.params.size(),
              " parameters, expected ", heads.num_params());
      heads.params() = st.params;
      heads.adam_m() = st.m;
      heads.adam_v() = st.v;
      heads.adam_step() = st.adam_step;
    }
  }
  int64_t epochs_here = 0;
  auto save = [&](ScanHeads& h, DataParallelStep& dp) {
    if (ckpt.empty()) return;
    dp.gather_moments(h);
    st.params = h.params();
    st.m = h.adam_m();
    st.v = h.adam_v();
    st.adam_step = h.adam_step();
    save_scan_state(ckpt, st, comm);
  };

  const int64_t W = heads.width();
  std::vector<float> xbuf, z, dz;
  std::vector<double> red;

  // ---- SCAN epochs ----
  DataParallelStep dp(heads.num_params(), comm);
  if (dp.sharded())
    log::info("scan: Adam update sharded over ", P, " ranks (", heads.num_params(), " parameters)");
  const int64_t nb = (n_valid + p.batch - 1) / p.batch;
  const int first_epoch = st.phase == 0 ? st.next_epoch : p.epochs;
  Progress progress("scan", "steps", nb * (p.epochs - first_epoch), comm.rank() == 0);
  for (int e = first_epoch; e < p.epochs; ++e) {
    auto t0 = std::chrono::steady_clock::now();
    // Batch and neighbour of each valid row: keyed by (seed, epoch, row).
    std::vector<int64_t> batch_of(my_rows.size()), nb_of(size_t(nloc), -1);
    for (size_t q = 0; q < my_rows.size(); ++q) {
      const int64_t i = my_rows[q], g = own.begin + i;
      batch_of[q] = int64_t(key_hash(uint64_t(p.seed), kBatchKey ^ uint64_t(e), uint64_t(g)) % uint64_t(nb));
      const int32_t cnt = nbr_count[i];
      nb_of[i] = cnt == 0 ? g
                          : nbr[i * kuse + int64_t(key_hash(uint64_t(p.seed), kNeighbourKey ^ uint64_t(e),
                                                            uint64_t(g)) % uint64_t(cnt))];
    }
    int64_t fetched = 0;
    if (!replicate) {
      std::vector<int64_t> need;
      need.reserve(my_rows.size());
      for (int64_t i : my_rows) need.push_back(nb_of[i]);
      fetched = rows.fetch(need, comm);
    }
    Buckets bk = bucket(my_rows, batch_of, nb);
    std::vector<double> cons_acc(H, 0.0), ent_acc(H, 0.0), ent(H);
    int64_t steps = 0;
    // Wall time per phase of this epoch's steps (for the log and the benchmark).
    double t_gather = seconds_since(t0), t_fwd = 0, t_comm = 0, t_bwd = 0, t_adam = 0;
    auto tick = [](std::chrono::steady_clock::time_point& t) {
      auto now = std::chrono::steady_clock::now();
      double s = std::chrono::duration<double>(now - t).count();
      t = now;
      return s;
    };
    for (int64_t b = 0; b < nb; ++b) {
      auto tp = std::chrono::steady_clock::now();
      const int64_t r0 = bk.start[b], na = bk.start[b + 1] - r0;
      xbuf.resize(size_t(2 * na * D));
      for (int64_t q = 0; q < na; ++q) {
        const int64_t i = bk.order[r0 + q];
        std::copy_n(rows.row(own.begin + i), D, xbuf.data() + q * D);
        std::copy_n(rows.row(nb_of[i]), D, xbuf.data() + (na + q) * D);
      }
      t_gather += tick(tp);
      z.resize(size_t(2 * na * W));
      heads.forward(xbuf.data(), 2 * na, z.data());
      softmax_heads(z.data(), 2 * na, H, C, z.data());
      // Global batch mean of the anchors' predictions (entropy term) and batch size.
      red.assign(size_t(W + 1), 0.0);
      column_sums(z.data(), na, W, red.data());
      red[W] = double(na);
      t_fwd += tick(tp);
      comm.allreduce_sum(red.data(), red.size());
      t_comm += tick(tp);
      const double bg = red[W];
      if (bg == 0) continue;
      for (int64_t j = 0; j < W; ++j) red[j] /= bg;
      mean_entropy(red.data(), H, C, ent.data());
      dz.resize(z.size());
      std::vector<double> cons(H, 0.0);
      scan_loss_grad(z.data(), z.data() + na * W, na, H, C, red.data(), bg, p.entropy_weight, dz.data(),
                     cons.data());
      heads.zero_grad();
      heads.backward(dz.data());
      t_bwd += tick(tp);
      dp.step(heads, adam, &t_comm, &t_adam);
      for (int h = 0; h < H; ++h) {
        cons_acc[h] += cons[h] / bg;
        ent_acc[h] += ent[h];
      }
      ++steps;
      progress.update((e - first_epoch) * nb + b + 1);
    }
    progress.finish();
    comm.allreduce_sum(cons_acc.data(), cons_acc.size());
    const double sd = double(std::max<int64_t>(1, steps));
    int best = 0;
    for (int h = 0; h < H; ++h) {
      const double c = cons_acc[h] / sd, en = ent_acc[h] / sd;
      st.consistency.push_back(c);
      st.entropy.push_back(en);
      st.loss.push_back(c - p.entropy_weight * en);
    }
    const double* last = st.loss.data() + size_t(e) * H;
    for (int h = 1; h < H; ++h)
      if (last[h] < last[best]) best = h;
    const double secs = seconds_since(t0);
    res.epoch_seconds.push_back(secs);
    auto [mn, mx] = std::minmax_element(last, last + H);
    log::info("scan: epoch ", e + 1, "/", p.epochs, ": loss ", last[best], " (head ", best, ": consistency ",
              st.consistency[size_t(e) * H + best], ", entropy ", st.entropy[size_t(e) * H + best], "; heads ", *mn,
              "..", *mx, "), ", steps, " steps, ", secs, " s, ", double(n_valid) / secs, " rows/s",
              replicate ? std::string() : fmt(", ", comm.sum(fetched), " rows fetched"));
    log::info("scan: epoch ", e + 1, " time on rank 0: draws+gather ", t_gather, " s, forward ", t_fwd,
              " s, backward ", t_bwd, " s, allreduce ", t_comm, " s, adam ", t_adam, " s");
    st.phase = 0;
    st.next_epoch = e + 1;
    save(heads, dp);
    maybe_fault(++epochs_here, comm);
  }

  // ---- keep the head with the lowest total loss in the last epoch ----
  int kept = st.kept_head;
  if (st.phase == 0) {
    const double* last = st.loss.data() + size_t(p.epochs - 1) * H;
    kept = int(std::min_element(last, last + H) - last);
  }
  res.kept_head = kept;
  st.kept_head = kept;
  {
    const double* last = st.loss.data() + size_t(p.epochs - 1) * H;
    log::info("scan: kept head ", kept, " (lowest total loss ", last[kept], " in the last epoch)");
  }
  ScanHeads one = heads.extract(kept);
  const int64_t chunk = 4096;
  // Forward of local rows `which` with head `h` into their rows of prob [nloc x C].
  auto predict_rows = [&](ScanHeads& h, const std::vector<int64_t>& which, std::vector<float>& prob) {
    std::vector<float> xb, zb;
    for (size_t q0 = 0; q0 < which.size(); q0 += chunk) {
      const int64_t m = std::min<int64_t>(chunk, int64_t(which.size() - q0));
      xb.resize(size_t(m * D));
      zb.resize(size_t(m * C));
      for (int64_t q = 0; q < m; ++q) std::copy_n(rows.row(own.begin + which[q0 + q]), D, xb.data() + q * D);
      h.forward(xb.data(), m, zb.data());
      softmax_heads(zb.data(), m, 1, C, zb.data());
      for (int64_t q = 0; q < m; ++q) std::copy_n(zb.data() + q * C, C, prob.data() + which[q0 + q] * C);
    }
  };
  // All local valid rows (0 for invalid ones).
  auto predict = [&](ScanHeads& h, std::vector<float>& prob) {
    prob.assign(size_t(nloc * C), 0.f);
    predict_rows(h, my_rows, prob);
  };
  auto argmax_rows = [&](const std::vector<float>& prob) {
    std::vector<int64_t> a(size_t(nloc), -1);
    for (int64_t i : my_rows) {
      const float* pi = prob.data() + i * C;
      a[i] = std::max_element(pi, pi + C) - pi;
    }
    return a;
  };

  // The kept head as SCAN left it (before self-labelling).
  auto scan_head = [&] {
    ScanHeads h = one;
    h.params() = st.scan_head;
    return h;
  };

  // ---- self-labelling ----
  std::vector<float> prob;
  const bool sl_asked = p.self_label && p.self_label_epochs > 0;
  if (sl_asked) {
    // The SCAN assignment before self-labelling, kept to show its effect.
    if (st.phase == 0) st.scan_head = one.params();
    {
      ScanHeads pre = scan_head();
      predict(pre, prob);
      res.assign_scan = argmax_rows(prob);
    }
    if (st.phase == 1) {
      one.params() = st.params;
      one.adam_m() = st.m;
      one.adam_v() = st.v;
      one.adam_step() = st.adam_step;
    }
    // No weight decay here: on rows the head already predicts with
    // confidence the cross-entropy gradient is tiny, and Adam would turn an
    // L2 term into full-size steps that shrink the head (measured: -4 points
    // of ACC on MNIST pixels at lr 1e-3).
    const AdamConfig sl_adam{p.self_label_lr, 0.0};
    DataParallelStep sl_step(one.num_params(), comm);
    double t_sl_comm = 0, t_sl_adam = 0;  // over all self-labelling epochs (logged with each)
    std::vector<int64_t> y(size_t(nloc), -1);
    for (int e = st.phase == 1 ? st.next_epoch : 0; e < p.self_label_epochs; ++e) {
      auto t0 = std::chrono::steady_clock::now();
      predict(one, prob);
      // Pseudo-labels: rows whose top probability exceeds the threshold.
      std::vector<double> cnt(size_t(C), 0.0);
      for (int64_t i : my_rows) {
        const float* pi = prob.data() + i * C;
        const int64_t a = std::max_element(pi, pi + C) - pi;
        y[i] = pi[a] > p.threshold ? a : -1;
        if (y[i] >= 0) cnt[a] += 1;
      }
      comm.allreduce_sum(cnt.data(), cnt.size());
      std::vector<int64_t> per(static_cast<size_t>(C));
      int64_t n_conf = 0, present = 0;
      for (int64_t c = 0; c < C; ++c) {
        per[c] = int64_t(cnt[c]);
        n_conf += per[c];
        present += per[c] > 0;
      }
      st.sl_confident.push_back(n_conf);
      if (n_conf == 0) {
        res.self_label_note = fmt("no row is confident (top probability > ", p.threshold,
                                  ") at self-labelling epoch ", e + 1, ": self-labelling skipped");
        log::warn("scan: ", res.self_label_note);
        st.sl_confident.pop_back();
        break;
      }
      log::info("scan: self-label epoch ", e + 1, "/", p.self_label_epochs, ": ", n_conf, " of ", n_valid,
                " rows confident (> ", p.threshold, "), in ", present, " of ", C, " clusters");
      if (e == 0 || C <= 64)
        log::info("scan: confident rows per cluster: ", join_counts(per));
      if (e == 0 && present < C && R == 0)
        log::warn("scan: self-labelling: only ", present, " of ", C, " clusters have confident rows (top probability > ",
                  p.threshold, "); the others get no pseudo-labels and can only lose rows. A lower --threshold gives more.");
      // Class-balanced weights: inverse pseudo-label frequency, mean 1 over confident rows.
      std::vector<double> wc(size_t(C), 0.0);
      for (int64_t c = 0; c < C; ++c)
        if (per[c] > 0) wc[c] = double(n_conf) / (double(present) * double(per[c]));
      const int64_t nbs = (n_conf + p.batch - 1) / p.batch;
      std::vector<int64_t> conf_rows, bo;
      for (int64_t i : my_rows)
        if (y[i] >= 0) {
          conf_rows.push_back(i);
          bo.push_back(int64_t(key_hash(uint64_t(p.seed), kSelfLabelKey ^ uint64_t(e), uint64_t(own.begin + i)) %
                               uint64_t(nbs)));
        }
      Buckets bk = bucket(conf_rows, bo, nbs);
      // The confident row's pseudo-label is the target for the prediction on
      // a neighbour drawn for this epoch: the kNN graph stands in for SCAN's
      // strong augmentation (with frozen features, training on the row itself
      // only sharpens what the head already says; measured on MNIST pixels it
      // lowered ACC by 0.02-0.3 points over 6 seeds, the neighbour view by
      // -0.13..+0.16, mean -0.02).
      std::vector<int64_t> view(size_t(nloc), -1), need;
      for (int64_t i : conf_rows) {
        const int64_t g = own.begin + i;
        const int32_t cn = nbr_count[i];
        view[i] = cn == 0 ? g
                          : nbr[i * kuse + int64_t(key_hash(uint64_t(p.seed), kSelfLabelKey ^ (uint64_t(e) << 32),
                                                            uint64_t(g)) % uint64_t(cn))];
        need.push_back(view[i]);
      }
      if (!replicate) rows.fetch(need, comm);
      std::vector<double> wsum(size_t(nbs), 0.0);
      for (int64_t b = 0; b < nbs; ++b)
        for (int64_t q = bk.start[b]; q < bk.start[b + 1]; ++q) wsum[b] += wc[y[bk.order[q]]];
      comm.allreduce_sum(wsum.data(), wsum.size());
      double loss = 0;
      int64_t steps = 0;
      std::vector<int64_t> yb;
      for (int64_t b = 0; b < nbs; ++b) {
        if (wsum[b] <= 0) continue;
        const int64_t r0 = bk.start[b], na = bk.start[b + 1] - r0;
        xbuf.resize(size_t(na * D));
        yb.resize(size_t(na));
        for (int64_t q = 0; q < na; ++q) {
          const int64_t i = bk.order[r0 + q];
          std::copy_n(rows.row(view[i]), D, xbuf.data() + q * D);
          yb[q] = y[i];
        }
        z.resize(size_t(na * C));
        dz.resize(z.size());
        one.forward(xbuf.data(), na, z.data());
        softmax_heads(z.data(), na, 1, C, z.data());
        loss += balanced_ce_grad(z.data(), yb.data(), na, C, wc.data(), wsum[b], dz.data());
        one.zero_grad();
        one.backward(dz.data());
        sl_step.step(one, sl_adam, &t_sl_comm, &t_sl_adam);
        ++steps;
      }
      loss = comm.sum(loss) / double(std::max<int64_t>(1, steps));
      st.sl_loss.push_back(loss);
      const double secs = seconds_since(t0);
      res.epoch_seconds.push_back(secs);
      log::info("scan: self-label epoch ", e + 1, "/", p.self_label_epochs, ": balanced cross-entropy ", loss, ", ",
                steps, " steps, ", secs, " s (so far: collectives ", t_sl_comm, " s, adam ", t_sl_adam, " s)");
      res.self_labelled = true;
      st.phase = 1;
      st.next_epoch = e + 1;
      save(one, sl_step);
      maybe_fault(++epochs_here, comm);
    }
    if (st.phase == 1 && !st.sl_loss.empty()) res.self_labelled = true;
    if (res.self_labelled && res.self_label_note.empty())
      res.self_label_note = fmt(st.sl_loss.size(), " epochs; confident rows ", st.sl_confident.front(), " -> ",
                                st.sl_confident.back(), " of ", n_valid);
  } else {
    res.self_label_note = "not run";
  }

  // ---- final assignment with the kept head ----
  predict(one, prob);
  if (sl_asked && p.self_label_gate) {
    // Keep only the self-labelling moves the row's neighbours support; rows
    // whose move is turned down keep the SCAN head's prediction.
    std::vector<uint8_t> keep;
    const GateCounts gc = neighbour_gate(res.assign_scan, argmax_rows(prob), my_rows,
                                         NeighbourLists{nbr, nbr_count, kuse}, rows, comm, keep);
    std::vector<int64_t> back;
    for (int64_t i : my_rows)
      if (!keep[i]) back.push_back(i);
    ScanHeads pre = scan_head();
    predict_rows(pre, back, prob);
    res.self_label_proposed = gc.proposed;
    res.self_label_rejected = gc.proposed - gc.kept;
    if (res.self_labelled) res.self_label_note += fmt("; neighbour gate kept ", gc.kept, " of ", gc.proposed, " moves");
    log::info("scan: self-labelling proposed ", gc.proposed, " moves; neighbour gate kept ", gc.kept,
              " (new cluster at least as common among the row's neighbours' SCAN clusters as the old), turned down ",
              gc.proposed - gc.kept);
  }
  res.probabilities = std::move(prob);
  res.assign.assign(size_t(nloc), -1);
  res.confidence.assign(size_t(nloc), 0.f);
  std::vector<int64_t> sizes(size_t(C), 0);
  int64_t moved = 0;
  for (int64_t i : my_rows) {
    const float* pi = res.probabilities.data() + i * C;
    const int64_t a = std::max_element(pi, pi + C) - pi;
    res.assign[i] = a;
    res.confidence[i] = pi[a];
    ++sizes[a];
    if (sl_asked) moved += res.assign_scan[i] != a;
  }
  comm.allreduce_sum(sizes.data(), sizes.size());
  if (sl_asked) {
    moved = comm.sum(moved);
    res.self_label_moved = moved;
    if (!p.self_label_gate) res.self_label_proposed = moved;
    log::info("scan: self-labelling moved ", moved, " of ", n_valid, " rows (", 100.0 * double(moved) / double(n_valid),
              "%) to another cluster");
  }
  res.cluster_sizes = sizes;
  {
    const int64_t biggest = *std::max_element(sizes.begin(), sizes.end());
    const int64_t empty = std::count(sizes.begin(), sizes.end(), int64_t(0));
    const int64_t at = std::max_element(sizes.begin(), sizes.end()) - sizes.begin();
    std::string why;
    // More than half the rows in one cluster (with C = 2 half is the balanced
    // size, so there the bar is three quarters), or empty clusters.
    const double limit = C == 2 ? 0.75 : 0.5;
    if (double(biggest) > limit * double(n_valid))
      why = fmt("cluster ", at, " holds ", biggest, " of ", n_valid, " rows (", 100.0 * double(biggest) / double(n_valid),
                "% > ", 100 * limit, "%)");
    if (empty > 0) why += fmt(why.empty() ? "" : "; ", empty, " of ", C, " clusters are empty");
    res.collapse = !why.empty();
    res.collapse_note = why;
    auto [mn, mx] = std::minmax_element(sizes.begin(), sizes.end());
    log::info("scan: cluster sizes ", *mn, "..", *mx, " (", C, " clusters, ", n_valid, " rows)");
    if (res.collapse && R == 0) {
      const std::string bar(72, '!');
      log::warn("scan: ", bar);
      log::warn("scan: COLLAPSE: the kept head ", kept, " degenerated: ", why, ".");
      log::warn("scan: The clustering is not usable as it is: raise --entropy-weight (now ", p.entropy_weight,
                "), lower --lr, or check the features and the kNN graph.");
      log::warn("scan: ", bar);
    }
  }

  // ---- prototypes: the top-confidence rows of each cluster ----
  const int64_t PR = p.prototypes;
  res.prototypes.assign(size_t(C * PR), -1);
  if (PR > 0) {
    struct Cand {
      int64_t row, cluster;
      float conf;
      float pad = 0;
    };
    auto better = [](const Cand& a, const Cand& b) {
      if (a.cluster != b.cluster) return a.cluster < b.cluster;
      if (a.conf != b.conf) return a.conf > b.conf;
      return a.row < b.row;
    };
    auto top = [&](std::vector<Cand>& v) {
      std::sort(v.begin(), v.end(), better);
      std::vector<Cand> out;
      for (size_t i = 0; i < v.size(); ++i) {
        size_t j = i;
        while (j < v.size() && v[j].cluster == v[i].cluster && int64_t(j - i) < PR) out.push_back(v[j++]);
        while (i + 1 < v.size() && v[i + 1].cluster == v[i].cluster) ++i;
      }
      v.swap(out);
    };
    std::vector<Cand> mine;
    for (int64_t i : my_rows) mine.push_back({own.begin + i, res.assign[i], res.confidence[i]});
    top(mine);
    std::vector<Cand> all = comm.allgather(mine);
    top(all);
    std::vector<int64_t> fill(size_t(C), 0);
    for (const Cand& c : all) res.prototypes[c.cluster * PR + fill[c.cluster]++] = c.row;
  }

  res.loss = st.loss;
  res.consistency = st.consistency;
  res.entropy = st.entropy;
  res.self_label_loss = st.sl_loss;
  res.self_label_confident = st.sl_confident;
  return res;
}

}  // namespace distclust
