#include "pipeline/run.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <iterator>
#include <memory>
#include <sstream>

#include "comm/local_comm.h"
#include "io/h5store.h"
#include "comm/root.h"
#include "io/output_identity.h"
#include "io/output_lock.h"
#include "io/text_file.h"
#include "core/json.h"
#include "distclust/log.h"
#include "eval/score_text.h"
#include "pipeline/stage_config.h"
#include "pipeline/stage_table.h"
#include "scan/scan_file.h"

namespace distclust {

void RunParams::validate() const {
  require(!workdir.empty(), "run.workdir: empty");
  // A workdir's outputs are replaced and removed by name (report/, export/,
  // *.tmp, logs/): the file system root is refused.
  std::error_code ec;
  const std::filesystem::path w = std::filesystem::weakly_canonical(std::filesystem::absolute(workdir), ec);
  require(!ec && w != w.root_path(), "run.workdir = '", workdir,
          "': give a folder of its own for the job's outputs, not the file system root");
  // eval and report get the run's clusterings as one "NAME=FILE,..." list
  // (eval.compare): a comma in the workdir split a path, and the run failed
  // on a key the user never set.
  require(workdir.find(',') == std::string::npos, "run.workdir = '", workdir,
          "': a comma in the workdir is not supported (the run passes its files to eval and report as a "
          "comma-separated list); choose another folder name");
  stage_list();
}

std::vector<std::string> RunParams::stage_list() const {
  const std::vector<std::string> known = stage_names();
  std::string list;
  for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
  std::vector<std::string> out;
  // "kmeans, knn" (a space after the comma) named a stage 'knn ': trimmed.
  for (const std::string& s : split_list(stages)) {
    require(std::find(known.begin(), known.end(), s) != known.end(), "run.stages: unknown stage '", s,
            "' (known: ", list, ")");
    // A stage twice ran it twice, the second time as up to date.
    require(std::find(out.begin(), out.end(), s) == out.end(), "run.stages: '", s, "' is listed twice in '", stages,
            "' (each stage runs once)");
    out.push_back(s);
  }
  require(!out.empty(), "run.stages is empty (expected e.g. ", RunParams{}.stages, ")");
  return out;
}

namespace {

/// Every field of params q as (key, text), in declaration order.
template <class P>
std::vector<std::pair<std::string, std::string>> field_texts(P q) {
  std::vector<std::pair<std::string, std::string>> out;
  auto v = [&](const char* name, auto& field, const char*) { out.emplace_back(name, to_text(field)); };
  q.visit(v);
  return out;
}

/// One stage of this run with its resolved params (the table's StageDef<P>
/// behind one interface, so the run can hold them in run order).
class RunStage {
 public:
  virtual ~RunStage() = default;
  virtual const std::string& name() const = 0;
  /// Params from the config (section, --set), the run's paths, validated;
  /// records the output in the layout for the stages after it.
  virtual void resolve(const Config& config, RunLayout& layout) = 0;
  virtual void record(ResolvedConfig& all) = 0;
  virtual std::string output() const = 0;
  /// The files and folders it cannot run without (wired from the layout).
  virtual std::vector<std::string> required_inputs() const = 0;
  virtual StageConfig config(Communicator& comm) = 0;
  virtual std::string skip(Communicator& comm) = 0;
  /// The checkpoint files a stopped run of it may have left (StageDef::checkpoints).
  virtual std::vector<std::string> checkpoints() const = 0;
  virtual StageOutcome run(Communicator& comm, const StageConfig& cfg) = 0;
};

template <class P>
class TypedRunStage final : public RunStage {
 public:
  explicit TypedRunStage(const StageDef<P>& def) : def_(def) {}
  const std::string& name() const override { return def_.name; }
  void resolve(const Config& config, RunLayout& layout) override {
    config.apply(def_.name, p_);
    const P given = p_;
    def_.wire(p_, layout);
    take_wired_keys(given);
    p_.validate();
    layout.outputs[def_.name] = def_.out(p_);
  }
  void record(ResolvedConfig& all) override { all.add(def_.name, p_, set_by_run_); }
  std::string output() const override { return def_.out(p_); }
  std::vector<std::string> required_inputs() const override {
    std::vector<std::string> in = def_.inputs ? def_.inputs(p_) : std::vector<std::string>{};
    if (def_.optional_inputs)
      for (const std::string& o : def_.optional_inputs(p_)) in.erase(std::remove(in.begin(), in.end(), o), in.end());
    return in;
  }
  StageConfig config(Communicator& comm) override { return stage_config(def_, p_, comm); }
  std::string skip(Communicator& comm) override { return def_.skip ? def_.skip(p_, comm) : std::string(); }
  std::vector<std::string> checkpoints() const override {
    return def_.checkpoints ? def_.checkpoints(output()) : std::vector<std::string>{};
  }
  StageOutcome run(Communicator& comm, const StageConfig& cfg) override { return run_stage(def_, p_, comm, cfg); }

 private:
  /// Records the keys wiring changed in the params given (set_by_run_; not
  /// those it changes in a default P: export.knn is wired only with
  /// duplicates set, synth_images.out only when the config left it empty).
  /// A key the config set that wiring then replaced (kmeans.out, extract.out,
  /// ...) was silently dropped: the outputs went to the workdir and the file
  /// the user named never appeared. Now an error.
  void take_wired_keys(P given) {
    const auto defaults = field_texts(P{}), set = field_texts(given), wired = field_texts(p_);
    for (size_t i = 0; i < set.size(); ++i) {
      if (set[i].second == wired[i].second) continue;
      set_by_run_.insert(set[i].first);
      require(set[i].second == defaults[i].second, "run: ", def_.name, ".",
              set[i].first, " = '", set[i].second, "' is set by the run itself ('", wired[i].second,
              "', from run.workdir and the stages before): remove it from the config, or run `distclust ", def_.name,
              "` on its own to choose it");
    }
  }

  const StageDef<P>& def_;
  P p_;
  std::set<std::string> set_by_run_;  ///< keys wire() sets (config.resolved.yaml comments them)
};

}  // namespace

std::set<std::string> run_wired_keys() {
  // Set in a run of every stage and in one without synth_images (whose
  // output becomes extract.source only when it runs): the keys a run
  // always sets.
  auto wired_in = [](std::vector<std::string> stages) {
    RunLayout layout;
    layout.workdir = "W";
    layout.stages = stages;
    for (const auto& s : stages) layout.outputs[s] = "W/" + s;
    std::set<std::string> keys;
    for_each_stage([&](const auto& def) {
      using P = typename std::decay_t<decltype(def)>::Params;
      P wired{};
      if (def.wire) def.wire(wired, layout);
      const auto before = field_texts(P{}), after = field_texts(wired);
      for (size_t i = 0; i < before.size(); ++i)
        if (before[i].second != after[i].second) keys.insert(def.name + "." + before[i].first);
    });
    return keys;
  };
  std::vector<std::string> all = stage_names(), most;
  for (const auto& s : all)
    if (s != "synth_images") most.push_back(s);
  const std::set<std::string> a = wired_in(all), b = wired_in(most);
  std::set<std::string> both;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::inserter(both, both.begin()));
  return both;
}

namespace {

/// Every input of every stage exists or is made by an earlier stage of the
/// run: run.stages=kmeans,scan (no knn, no knn.h5 in the workdir) failed
/// only after k-means had run. Checked on rank 0, before any stage runs.
void require_inputs_ready(const std::vector<std::unique_ptr<RunStage>>& stages, const std::string& names,
                          Communicator& comm) {
  run_on_root(comm, "checking the run's inputs", [&] {
    std::set<std::string> made;
    for (const auto& st : stages) {
      for (const std::string& in : st->required_inputs()) {
        struct stat sb {};
        require(in.empty() || made.count(in) || stat(in.c_str(), &sb) == 0, "run: ", st->name(), " reads ", in,
                ", which neither exists nor is made by a stage before it in run.stages (", names,
                "): add the stage that makes it, or run it first");
      }
      made.insert(st->output());
    }
  });
}

std::unique_ptr<RunStage> make_run_stage(const std::string& name) {
  std::unique_ptr<RunStage> out;
  for_each_stage([&](const auto& def) {
    using P = typename std::decay_t<decltype(def)>::Params;
    if (def.name == name) out = std::make_unique<TypedRunStage<P>>(def);
  });
  require(out != nullptr, "run: no stage named '", name, "'");
  return out;
}

/// The output's config hash as rank 0 reads it, on every rank ("" for a
/// folder missing files since its commit: io/output_identity.h).
std::string shared_output_hash(const std::string& path, Communicator& comm) {
  std::string h = comm.rank() == 0 ? whole_output_hash(path) : std::string();
  comm.broadcast(h, 0);
  return h;
}

/// A finished output's checkpoints, left by a stop between the output's
/// rename and their removal (the stage lists them: StageDef::checkpoints).
/// run skips the stage from then on, so nothing else would remove them
/// (knn's: ~14 MB a rank at N=120k). Only when every one was written before
/// OUT (a checkpoint saved since belongs to another job's settings: `run
/// --set kmeans.k=100` stopped by its time limit, beside a kmeans.h5 of
/// k=50, is hours of work: all are kept), and none while a process holds
/// OUT.lock. Rank 0; best effort (a file-system error leaves them).
void remove_leftover_checkpoints(const std::string& out, const std::vector<std::string>& listed) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (listed.empty() || OutputLock::held(OutputLock::path_for(out))) return;
  const fs::file_time_type made = fs::last_write_time(out, ec);
  if (ec) return;
  std::vector<fs::path> files, folders;
  for (const std::string& f : listed) {
    if (fs::is_directory(f, ec))
      folders.emplace_back(f);
    else if (fs::exists(f, ec))
      files.emplace_back(f);
  }
  for (const fs::path& f : files) {
    const fs::file_time_type t = fs::last_write_time(f, ec);
    if (ec || t > made) return;
  }
  for (const fs::path& f : files) fs::remove(f, ec);
  for (const fs::path& d : folders) fs::remove(d, ec);  // only once empty
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// Scores for a person: "ACC 0.918  NMI 0.843  ARI 0.831 (1000 rows)"
/// (the file keeps every digit; three are what a score means to a reader).
std::string scores_line(const json::Value& v) {
  std::string line;
  for (const char* key : {"acc", "nmi", "ari"}) {
    auto it = v.obj.find(key);
    if (it == v.obj.end() || it->second.type != json::Value::Type::number) continue;
    line += fmt(line.empty() ? "" : "  ", key == std::string("acc") ? "ACC" : key == std::string("nmi") ? "NMI" : "ARI",
                " ", score_text(it->second.num));
  }
  auto n = v.obj.find("n");
  if (n != v.obj.end() && n->second.type == json::Value::Type::number) line += fmt(" (", int64_t(n->second.num), " labelled rows)");
  return line.empty() ? "no scores (no labels)" : line;
}

/// scores.json's "methods" (eval --compare), one line each, side by side.
std::string methods_text(const json::Value& v) {
  auto it = v.obj.find("methods");
  if (it == v.obj.end() || it->second.type != json::Value::Type::object || it->second.obj.size() < 2) return "";
  size_t w = 0;
  for (const auto& m : it->second.obj) w = std::max(w, m.first.size());
  std::string text = "  scores side by side:\n";
  // In the order of the clustering stages, then any other name.
  std::vector<std::string> order = RunLayout::clustering_stages();
  for (const auto& m : it->second.obj)
    if (std::find(order.begin(), order.end(), m.first) == order.end()) order.push_back(m.first);
  for (const auto& name : order) {
    auto m = it->second.obj.find(name);
    if (m == it->second.obj.end()) continue;
    text += "    " + name + std::string(w - name.size(), ' ') + "  " + scores_line(m->second) + "\n";
  }
  return text;
}

/// The SCAN health warnings stored in scan.h5 (scan_health.h), loud.
std::string scan_warnings_text(const std::string& scan) {
  struct stat st{};
  if (scan.empty() || stat(scan.c_str(), &st) != 0) return "";
  std::string text;
  for (const auto& w : read_scan_warnings(scan)) text += "  SCAN WARNING: " + w + "\n";
  return text;
}

/// Sizes of the clusters in a predictions file and the scores, for the summary (rank 0).
std::string results_text(const std::string& pred, const std::string& scores) {
  struct stat st{};
  if (pred.empty() || stat(pred.c_str(), &st) != 0) return "";
  LocalCommunicator self;
  H5Reader r(pred, self);
  std::map<int64_t, int64_t> sizes;
  for (int64_t a : r.read_all<int64_t>("/assign")) ++sizes[a];
  std::string s;
  int shown = 0;
  for (auto& [c, n] : sizes)
    if (c >= 0 && shown++ < 50) s += fmt(s.empty() ? "" : " ", n);
  std::string text = fmt("  cluster sizes (", pred, "): ", s, sizes.size() > 50 ? " ..." : "", "\n");
  if (!scores.empty() && stat(scores.c_str(), &st) == 0) {
    std::ifstream f(scores);
    std::stringstream ss;
    ss << f.rdbuf();
    const json::Value v = json::parse(ss.str(), scores);
    text += "  scores (" + scores + "): " + scores_line(v) + "\n" + methods_text(v);
  }
  return text;
}

/// Time per stage, the stages' own lines, cluster sizes and scores.
void log_summary(const std::vector<std::pair<std::string, double>>& times, const std::vector<std::string>& lines,
                 const RunLayout& layout, Communicator& comm) {
  std::string text = "run: summary\n";
  double total = 0;
  for (const auto& [name, secs] : times) {
    text += secs == -1.0   ? fmt("  ", name, ": skipped (up to date)\n")
            : secs == -2.0 ? fmt("  ", name, ": skipped (nothing to do)\n")
                           : fmt("  ", name, ": ", secs, " s\n");
    total += std::max(0.0, secs);
  }
  text += fmt("  total: ", total, " s\n");
  for (const auto& l : lines) text += "  " + l + "\n";
  if (comm.rank() == 0)
    text += results_text(layout.predictions(), layout.output_of("eval")) + scan_warnings_text(layout.output_of("scan"));
  log::info(text);
}

}  // namespace

void run_pipeline(const RunParams& rp, const Config& config, RuntimeParams runtime, Communicator& comm) {
  RunLayout layout;
  layout.workdir = rp.workdir;
  layout.stages = rp.stage_list();
  // Every stage resolved and validated up front: a typo fails before hours of extraction,
  // and before the workdir is made: a refused config leaves no empty folder.
  std::vector<std::unique_ptr<RunStage>> stages;
  ResolvedConfig all;
  for (const auto& name : layout.stages) {
    stages.push_back(make_run_stage(name));
    stages.back()->resolve(config, layout);
    stages.back()->record(all);
  }
  run_on_root(comm, "run", [&] {
    std::error_code ec;
    std::filesystem::create_directories(rp.workdir + "/logs", ec);
    require(!ec, "run: cannot create workdir ", rp.workdir, "/logs: ", ec.message());
  });
  // One job per workdir: a second `run` on it is refused before it touches a file.
  OutputLock workdir_lock(rp.workdir + "/.distclust.lock", "run workdir " + rp.workdir, comm);
  if (runtime.log_dir.empty()) log::open_rank_file(rp.workdir + "/logs");

  require_inputs_ready(stages, rp.stages, comm);
  all.add("runtime", runtime);
  RunParams rp_copy = rp;
  all.add("run", rp_copy);
  run_on_root(comm, "writing config.resolved.yaml",
              [&] { write_text_file(rp.workdir + "/config.resolved.yaml", all.yaml()); });
  log::info("run: ", stages.size(), " stages into ", rp.workdir, " (resolved config: ", rp.workdir,
            "/config.resolved.yaml)");

  std::vector<std::pair<std::string, double>> times;
  std::vector<std::string> lines;
  for (auto& st : stages) {
    // Inputs are whole now (the stages before ran or were up to date), so
    // their hashes, and with them this stage's, are final.
    const StageConfig cfg = st->config(comm);
    const std::string out = st->output();
    if (!rp.force && shared_output_hash(out, comm) == cfg.hash) {
      log::info("run: ", st->name(), ": up to date (", out, "), skipped");
      if (comm.rank() == 0) remove_leftover_checkpoints(out, st->checkpoints());
      times.emplace_back(st->name(), -1.0);
      continue;
    }
    if (const std::string why = st->skip(comm); !why.empty()) {
      log::info("run: ", st->name(), ": ", why, ", skipped");
      times.emplace_back(st->name(), -2.0);
      continue;
    }
    log::info("run: ", st->name(), " ...");
    const auto t0 = std::chrono::steady_clock::now();
    StageOutcome o = st->run(comm, cfg);
    comm.barrier();
    times.emplace_back(st->name(), seconds_since(t0));
    lines.insert(lines.end(), o.summary.begin(), o.summary.end());
  }

  log_summary(times, lines, layout, comm);
}

}  // namespace distclust
