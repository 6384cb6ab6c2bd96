// `distclust run`: extract -> kmeans -> knn -> scan -> eval -> report ->
// export from one config. Each stage's key is its resolved section plus the
// keys of the stages before it; a stage whose output exists with the same key
// (W/.STAGE.key, written after the output is complete) is skipped, and one
// that was interrupted resumes from its own checkpoint.
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "cli/commands.h"
#include "cli/context.h"
#include "comm/local_comm.h"
#include "eval/eval.h"
#include "export/export.h"
#include "extract/extract.h"
#include "io/h5store.h"
#include "distclust/log.h"
#include "report/report.h"
#include "pipeline/run.h"
#include "scan/scan.h"
#include "pipeline/stages.h"
#include "synth/synth_images.h"

namespace distclust {

void RunParams::validate() const {
  require(!workdir.empty(), "run.workdir: empty");
  std::stringstream ss(stages);
  std::string s;
  static const char* known[] = {"synth_images", "extract", "kmeans", "knn", "scan", "eval", "report", "export"};
  while (std::getline(ss, s, ',')) {
    bool ok = false;
    for (const char* k : known) ok = ok || s == k;
    require(ok, "run.stages: unknown stage '", s, "' (known: synth_images, extract, kmeans, knn, scan, eval, report, export)");
  }
}

namespace cli {
namespace {

bool exists(const std::string& p) {
  struct stat st{};
  return stat(p.c_str(), &st) == 0;
}

std::string read_text(const std::string& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

/// Rank 0's view of a small fact, shared with all ranks.
std::string shared(Communicator& comm, std::string s) {
  comm.broadcast(s, 0);
  return s;
}

class Pipeline {
 public:
  Pipeline(Context& ctx, const RunParams& rp) : ctx_(ctx), rp_(rp), comm_(*ctx.comm), w_(rp.workdir) {
    std::stringstream ss(rp.stages);
    std::string s;
    while (std::getline(ss, s, ',')) stages_.push_back(s);
  }

  void run() {
    if (comm_.rank() == 0) {
      std::string cmd = "mkdir -p '" + w_ + "/logs'";
      require(std::system(cmd.c_str()) == 0, "run: cannot create workdir ", w_);
    }
    comm_.barrier();
    if (ctx_.runtime.log_dir.empty()) log::open_rank_file(w_ + "/logs");
    resolve_all();
    if (comm_.rank() == 0) std::ofstream(w_ + "/config.resolved.yaml") << all_.yaml();
    log::info("run: ", stages_.size(), " stages into ", w_, " (resolved config: ", w_, "/config.resolved.yaml)");
    std::string chain;
    for (const auto& s : stages_) chain = stage(s, chain);
    summary();
  }

 private:
  template <class P>
  void section(const std::string& name, P& p) {
    ctx_.config.apply(name, p);
  }

  /// Every stage's params with the run's paths, validated up front so a typo
  /// fails before hours of extraction.
  void resolve_all() {
    section("synth_images", si_);
    if (si_.out.empty()) si_.out = w_ + "/images";
    section("extract", ex_);
    if (has("synth_images")) ex_.source = si_.out;
    ex_.out = w_ + "/features.h5";
    section("kmeans", km_);
    km_.features = ex_.out, km_.out = w_ + "/kmeans.h5";
    section("knn", kn_);
    kn_.features = ex_.out, kn_.out = w_ + "/knn.h5";
    section("scan", sc_);
    sc_.features = ex_.out, sc_.knn = kn_.out, sc_.out = w_ + "/scan.h5";
    const std::string pred = has("scan") ? sc_.out : km_.out;
    section("eval", ev_);
    ev_.pred = pred, ev_.labels = ex_.out, ev_.out = w_ + "/scores.json", ev_.json = false;
    section("report", rep_);
    rep_.features = ex_.out, rep_.pred = pred, rep_.out = w_ + "/report", rep_.force = true;
    if (has("kmeans")) rep_.kmeans = km_.out;
    if (has("scan")) rep_.scan = sc_.out;
    section("export", exp_);
    exp_.features = ex_.out, exp_.pred = pred, exp_.out = w_ + "/export", exp_.force = true;
    auto add = [&](const std::string& name, auto& p) {
      if (!has(name)) return;
      p.validate();
      all_.add(name, p);
    };
    add("synth_images", si_);
    add("extract", ex_);
    add("kmeans", km_);
    add("knn", kn_);
    add("scan", sc_);
    add("eval", ev_);
    add("report", rep_);
    add("export", exp_);
    all_.add("runtime", ctx_.runtime);
    all_.add("run", const_cast<RunParams&>(rp_));
  }

  bool has(const std::string& s) const { return std::find(stages_.begin(), stages_.end(), s) != stages_.end(); }

  template <class P>
  StageConfig config_of(const std::string& name, P& p, const std::string& chain) {
    ResolvedConfig rc;
    rc.add(name, p);
    return {rc.yaml(), fnv1a_hex(rc.yaml() + "inputs: " + chain + "\n")};
  }

  /// Runs (or skips) one stage; returns its key for the next.
  std::string stage(const std::string& name, const std::string& chain) {
    StageConfig cfg;
    std::string output;
    if (name == "synth_images") cfg = config_of(name, si_, chain), output = si_.out;
    if (name == "extract") cfg = config_of(name, ex_, chain), output = ex_.out;
    if (name == "kmeans") cfg = config_of(name, km_, chain), output = km_.out;
    if (name == "knn") cfg = config_of(name, kn_, chain), output = kn_.out;
    if (name == "scan") cfg = config_of(name, sc_, chain), output = sc_.out;
    if (name == "eval") cfg = config_of(name, ev_, chain), output = ev_.out;
    if (name == "report") cfg = config_of(name, rep_, chain), output = rep_.out;
    if (name == "export") cfg = config_of(name, exp_, chain), output = exp_.out;
    const std::string marker = w_ + "/." + name + ".key";
    const bool done = shared(comm_, comm_.rank() == 0 && exists(output) && exists(marker) ? read_text(marker) : "") == cfg.hash;
    if (done && !rp_.force) {
      log::info("run: ", name, ": up to date (", output, "), skipped");
      times_.emplace_back(name, -1.0);
      return cfg.hash;
    }
    log::info("run: ", name, " ...");
    auto t0 = std::chrono::steady_clock::now();
    if (name == "synth_images") {
      const int64_t total = int64_t(si_.classes) * si_.per_class;
      RowRange mine = row_block(total, comm_.rank(), comm_.size());
      comm_.sum(synth_images(si_, mine.begin, mine.end));
    } else if (name == "extract") {
      ExtractSummary s = run_extract(ex_, comm_, load_torchscript_backbone, cfg.yaml);
      images_per_second_ = s.images_per_second;
      invalid_ = s.invalid;
    } else if (name == "kmeans") {
      run_kmeans_stage(km_, comm_, cfg);
    } else if (name == "knn") {
      run_knn_stage(kn_, comm_, cfg);
    } else if (name == "scan") {
      run_scan_stage(sc_, comm_, cfg);
    } else if (name == "eval") {
      if (!has_labels()) {
        log::info("run: eval: ", ex_.out, " has no labels, nothing to score");
      } else {
        run_eval(ev_, comm_);
      }
    } else if (name == "report") {
      run_report(rep_, comm_);
    } else if (name == "export") {
      run_export(exp_, comm_);
    }
    comm_.barrier();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    times_.emplace_back(name, secs);
    if (comm_.rank() == 0) std::ofstream(marker) << cfg.hash;
    return cfg.hash;
  }

  bool has_labels() {
    int64_t yes = 0;
    if (comm_.rank() == 0) {
      LocalCommunicator self;
      H5Reader r(ex_.out, self);
      if (r.has("/labels"))
        for (int64_t l : r.read_all<int64_t>("/labels")) yes |= l >= 0;
    }
    comm_.broadcast(&yes, sizeof(yes), 0);
    return yes != 0;
  }

  void summary() {
    std::string text = "run: summary\n";
    double total = 0;
    for (const auto& [name, secs] : times_) {
      text += secs < 0 ? fmt("  ", name, ": skipped (up to date)\n") : fmt("  ", name, ": ", secs, " s\n");
      total += std::max(0.0, secs);
    }
    text += fmt("  total: ", total, " s\n");
    if (images_per_second_ > 0) text += fmt("  extract: ", images_per_second_, " images/s, ", invalid_, " invalid images\n");
    const std::string pred = has("scan") ? sc_.out : km_.out;
    if (comm_.rank() == 0 && exists(pred)) {
      LocalCommunicator self;
      H5Reader r(pred, self);
      std::map<int64_t, int64_t> sizes;
      for (int64_t a : r.read_all<int64_t>("/assign")) ++sizes[a];
      std::string s;
      int shown = 0;
      for (auto& [c, n] : sizes)
        if (c >= 0 && shown++ < 50) s += fmt(s.empty() ? "" : " ", n);
      text += fmt("  cluster sizes (", pred, "): ", s, sizes.size() > 50 ? " ..." : "", "\n");
      if (exists(ev_.out)) text += "  scores: " + read_text(ev_.out);
    }
    log::info(text);
  }

  Context& ctx_;
  const RunParams& rp_;
  Communicator& comm_;
  std::string w_;
  std::vector<std::string> stages_;
  ResolvedConfig all_;
  SynthImagesParams si_;
  ExtractParams ex_;
  KMeansParams km_;
  KnnParams kn_;
  ScanParams sc_;
  EvalParams ev_;
  ReportParams rep_;
  ExportParams exp_;
  std::vector<std::pair<std::string, double>> times_;
  double images_per_second_ = 0;
  int64_t invalid_ = 0;
};

}  // namespace

void add_run_command(CLI::App& app) {
  static CommandLine cl;
  static RunParams defaults;
  auto* cmd = app.add_subcommand("run", "The whole job from one config: extract -> kmeans -> knn -> scan -> eval -> report -> export");
  add_common(cmd, cl);
  cl.flags.add(cmd, "run", defaults);
  cmd->callback([] {
    Context ctx = make_context(cl, "run", all_sections());
    RunParams rp;
    resolve(ctx, cl, "run", rp);
    Pipeline(ctx, rp).run();
  });
}

}  // namespace cli
}  // namespace distclust
