// assign's inputs: the run's files, the new rows, and the checks that the new
// rows are features of the same kind as the run's.
#include <exception>
#include <filesystem>
#include <set>

#include <yaml-cpp/yaml.h>

#include "core/fault.h"
#include "core/stop_note.h"
#include "assign/assign_parts.h"
#include "comm/local_comm.h"
#include "comm/root.h"
#include "distclust/config.h"
#include "distclust/error.h"
#include "distclust/log.h"
#include "extract/backbone.h"
#include "extract/extract.h"
#include "extract/extract_stage.h"
#include "extract/preprocess.h"
#include "io/h5store.h"
#include "io/output_identity.h"
#include "io/output_lock.h"
#include "io/replace_rule.h"
#include "io/rows_identity.h"

namespace fs = std::filesystem;

namespace distclust::assign {
namespace {

bool exists(const std::string& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

/// An explicit path, else RUN/name when it exists (or must exist), "none" = "".
std::string pick(const std::string& given, const std::string& run, const char* name, bool required) {
  if (given == "none") return "";
  if (!given.empty()) {
    require(exists(given), "assign: ", given, " does not exist");
    return given;
  }
  if (run.empty()) return "";
  const std::string at = run + "/" + name;
  if (exists(at)) return at;
  require(!required, "assign: the run folder ", run, " has no ", name, " (--run names a finished run's workdir)");
  return "";
}

/// The stages of the run in folder `run` (its config.resolved.yaml's
/// run.stages), or none known (false) when that cannot be read.
bool run_stages(const std::string& run, std::set<std::string>& stages) {
  try {
    const YAML::Node y = YAML::LoadFile(run + "/config.resolved.yaml");
    if (!y["run"] || !y["run"]["stages"]) return false;
    for (const std::string& s : split_list(y["run"]["stages"].as<std::string>())) stages.insert(s);
    return !stages.empty();
  } catch (const YAML::Exception&) {
    return false;
  }
}

std::string string_attr(const std::string& file, const char* name) {
  LocalCommunicator self;
  H5Reader r(file, self);
  return r.has_attr(name) ? r.attr_string(name) : std::string();
}

/// The reference's extract settings with the new source and output.
ExtractParams replay_params(const AssignParams& p, const Inputs& in) {
  ExtractParams ep;
  const std::string yaml = string_attr(in.reference, "params");
  require(!yaml.empty(), "assign: ", in.reference, " has no `params` attribute (not written by distclust extract): ",
          "extract the new images yourself and pass --features");
  Config::parse(yaml, in.reference + ": its stored params").apply_yaml("extract", ep);
  require(!ep.backbone.empty(), "assign: ", in.reference, " was not written by `distclust extract` (no backbone in its ",
          "params; synthetic features?): pass the new rows as --features");
  // The run recorded the path it was given, maybe relative to the folder it
  // started in; a missing model must not read as a changed one.
  if (!p.backbone.empty()) {
    ep.backbone = p.backbone;
    require(exists(ep.backbone), "assign: --backbone ", ep.backbone, " does not exist");
  }
  require(ep.is_pixels() || exists(ep.backbone), "assign: the run's model ", ep.backbone,
          " (the path the run recorded, relative to the folder it started in) does not exist from ",
          fs::current_path().string(), ": run assign from that folder, or pass --backbone with the model's path");
  // The run's projection, not one fitted on the new images.
  {
    LocalCommunicator self;
    if (H5Reader(in.reference, self).has("/pca_components")) ep.pca_from = in.reference;
  }
  ep.source = p.source;
  ep.source_type = "auto";
  ep.out = in.new_features;
  ep.force = p.force;
  ep.resume = true;
  return ep;
}

}  // namespace

void refuse_embedding_clusters(const Inputs& in) {
  for (const auto& [file, section] :
       {std::pair{in.kmeans, "kmeans"}, std::pair{in.gmm, "gmm"}, std::pair{in.scan, "scan"}}) {
    if (file.empty()) continue;
    std::string input;
    try {
      const YAML::Node params = YAML::Load(string_attr(file, "params"));
      if (!params[section] || !params[section]["features"]) continue;
      input = params[section]["features"].as<std::string>();
    } catch (const YAML::Exception&) {
      continue;  // not distclust's params: the reading of the file itself reports what is wrong
    }
    // Stored settings write a $ as $$ (config.cpp yaml_text): read back as
    // Config::parse reads them ('e$$x/embed.h5' was looked for as such, and
    // this check never fired). Files from before that escaping stay as written.
    try {
      input = expand_env(file + ": its stored " + section + ".features", input);
    } catch (const Error&) {
    }
    // Stored as given when the run started, maybe relative to another folder.
    if (!exists(input)) input = (fs::path(file).parent_path() / fs::path(input).filename()).string();
    if (!exists(input) || string_attr(input, "stage") != "embed") continue;
    throw Error(fmt("assign: ", file, " clustered the embedding ", input,
                    " (made by distclust embed), and an embedding has no transform for new rows: its clusters ",
                    "cannot be applied to new images. Rerun the job with the new images included, or assign with a ",
                    "run that clusters its features"));
  }
}

void refuse_foreign_models(const Inputs& in, Communicator& comm) {
  run_on_root(comm, "checking the models against the run's features", [&] {
    for (const std::string& model : {in.kmeans, in.gmm, in.scan})
      if (!model.empty())
        require_same_rows(model, in.reference, "assign",
                          "the model was fitted on other features than " + in.reference +
                              "; assign with the run that made it: --run, or --reference its features.h5");
  });
}

std::string sibling(const std::string& out, const std::string& ext) {
  fs::path o(out);
  if (o.extension() == ".h5") o.replace_extension();
  return o.string() + ext;
}

namespace {

/// resolve_inputs on this rank alone.
Inputs resolve_here(const AssignParams& p) {
  Inputs in;
  if (!p.run.empty()) require(fs::is_directory(p.run), "assign: --run ", p.run, " is not a folder (a run's workdir)");
  in.reference = pick(p.reference, p.run, "features.h5", true);
  require(!in.reference.empty(), "assign: no run given: --run WORKDIR, or --reference features.h5 with --kmeans ",
          "and/or --scan");
  // The clustering the run's eval, export and report use (Layout::
  // predictions): a model its last run did not make is a leftover of an
  // earlier one (a scan.h5 from before run.stages dropped scan), not used.
  std::set<std::string> stages;
  const bool known = !p.run.empty() && run_stages(p.run, stages);
  auto model = [&](const std::string& given, const char* stage, const char* name) {
    if (given.empty() && known && !stages.count(stage)) {
      if (exists(p.run + "/" + name))
        in.ignored += fmt(in.ignored.empty() ? "" : ", ", p.run, "/", name);
      return std::string();
    }
    return pick(given, p.run, name, false);
  };
  in.kmeans = model(p.kmeans, "kmeans", "kmeans.h5");
  in.scan = model(p.scan, "scan", "scan.h5");
  in.gmm = model(p.gmm, "gmm", "gmm.h5");
  require(!in.kmeans.empty() || !in.scan.empty() || !in.gmm.empty(), "assign: nothing to assign with: the run ",
          p.run.empty() ? in.reference : p.run, " has no kmeans.h5, gmm.h5 or scan.h5 (or they were set to none)",
          in.ignored.empty() ? std::string() : fmt("; not used: ", in.ignored, ", which its last run.stages do not make"));
  if (!in.scan.empty()) {
    in.knn = p.knn.empty() ? string_attr(in.scan, "knn") : p.knn;
    // The stored path may be relative to where the run was started.
    if (!in.knn.empty() && !exists(in.knn) && !p.run.empty() && exists(p.run + "/knn.h5")) in.knn = p.run + "/knn.h5";
  }
  in.new_features = p.source.empty() ? p.features : (p.features_out.empty() ? sibling(p.out, ".features.h5")
                                                                             : p.features_out);
  if (p.source.empty()) require(exists(p.features), "assign: --features ", p.features, " does not exist");
  in.csv = p.csv.empty() ? sibling(p.out, ".csv") : p.csv;
  return in;
}

/// The files this rank resolved, as one line ("-": none).
std::string view_text(const Inputs& in) {
  auto one = [](const char* what, const std::string& f) { return fmt(what, " ", f.empty() ? "-" : f); };
  return fmt(one("features", in.reference), ", ", one("kmeans", in.kmeans), ", ", one("gmm", in.gmm), ", ",
             one("scan", in.scan), ", ", one("knn", in.knn));
}

}  // namespace

Inputs resolve_inputs(const AssignParams& p, Communicator& comm) {
  if (comm.size() == 1) return resolve_here(p);
  // Each rank looks in the run folder itself: ranks that found other models
  // there (a node's lagging view of a network file system, a model written
  // while the job started) applied other models and parted at the first
  // collective of one of them: a hang until the time limit. A rank that
  // found nothing usable compares its error as its view, so that the
  // message says the ranks differ rather than one rank's view alone.
  Inputs in;
  std::string mine;
  std::exception_ptr failed;
  try {
    in = resolve_here(p);
    mine = view_text(in);
  } catch (const std::exception& e) {  // a filesystem_error (EACCES on one node) too
    failed = std::current_exception();
    mine = fmt("error: ", e.what());
  }
  const std::vector<std::string> views = comm.allgather_strings(mine);
  std::string others;
  int differ = 0;
  for (size_t r = 1; r < views.size(); ++r)
    if (views[r] != views[0] && ++differ <= 3) others += fmt("; rank ", r, ": ", views[r]);
  require(differ == 0, "assign: the ranks see different files in ", p.run.empty() ? std::string("the inputs") : p.run,
          ": rank 0: ", views[0], others, differ > 3 ? fmt(" (and ", differ - 3, " more ranks)") : std::string(),
          ". A node's view of a network file system lags behind, or the folder changed as the job started; run "
          "again once it has settled");
  if (failed) std::rethrow_exception(failed);  // every rank's, alike
  return in;
}

void extract_new_rows(const AssignParams& p, const Inputs& in, Communicator& comm) {
  if (p.source.empty()) return;
  const ExtractParams ep = replay_params(p, in);
  const std::string ref_model = string_attr(in.reference, "model");
  const std::string now = model_fingerprint(ep);
  require(ref_model.empty() || ref_model == now, "assign: the model ", ep.backbone, " changed since the run extracted ",
          in.reference, " (fingerprint ", now, ", the run's ", ref_model, "): the new rows would not be comparable");
  if (ref_model.empty() && comm.rank() == 0)
    log::warn("assign: ", in.reference, " does not record its model's fingerprint (written by an older distclust): ",
              "cannot check that ", ep.backbone, " is the model the run used");
  // The same model bytes with another sidecar (input size, mean, std) give
  // other features just as well.
  const std::string ref_prep = string_attr(in.reference, "preprocessing");
  const std::string prep_now = preprocessing_text(ep);
  // The run's attribute is the transform, then what a PCA added (", L2-normalised, PCA to ...").
  const bool same_prep = ref_prep.compare(0, prep_now.size(), prep_now) == 0 &&
                         (ref_prep.size() == prep_now.size() || ref_prep[prep_now.size()] == ',');
  require(ref_prep.empty() || same_prep, "assign: the input transform of ", ep.backbone,
          " changed since the run extracted ", in.reference, " (now: ", prep_now, "; the run's: ", ref_prep,
          "): was its sidecar ", ep.is_pixels() ? std::string("(none: pixels)") : sidecar_path_for(ep.backbone),
          " edited? The new rows would not be comparable");
  const StageDef<ExtractParams>& def = extract_stage();
  ResolvedConfig rc;
  ExtractParams q = ep;
  rc.add(def.name, q);
  const StageConfig cfg{rc.yaml(), config_hash(q, def.not_hashed, def.identity(ep, comm))};
  // Read on rank 0 and shared: ranks that read it differently (NFS lag, a
  // writer meanwhile) would part here, some reusing it, the others entering
  // the lock's and extract's collectives alone.
  std::string have = comm.rank() == 0 ? output_config_hash(ep.out) : std::string();
  comm.broadcast(have, 0);
  if (have == cfg.hash) {
    if (comm.rank() == 0) log::info("assign: ", ep.out, " is up to date (same images, model and settings): reused");
    return;
  }
  OutputLock lock(OutputLock::path_for(ep.out), "output " + ep.out, comm);
  require_replaceable("assign", ep.out, p.force, comm, "--features-out", "features");
  if (comm.rank() == 0)
    log::info("assign: extracting ", p.source, " as the run extracted ", in.reference, " (backbone ", ep.backbone, ")");
  run_extract(ep, comm, load_torchscript_backbone, cfg);
  // The new rows' features are a side output: a stop while the models are
  // applied leaves assign's own output uncommitted, as the message must say.
  stop_note_clear();
  fault_signal_point("DISTCLUST_FAULT_SIGNAL_AT", "assign-features-written");  // the tests' stop here
}

void check_same_features(const Inputs& in, Communicator& comm) {
  run_on_root(comm, "checking the new features against the run's", [&] {
    LocalCommunicator self;
    H5Reader ref(in.reference, self), nw(in.new_features, self);
    const DatasetInfo a = ref.info("/features"), b = nw.info("/features");
    require(b.shape.size() == 2 && a.shape.size() == 2 && a.shape[1] == b.shape[1], "assign: dimension mismatch: ",
            in.new_features, ": /features is ", b.describe(), " but the run's ", in.reference, " is ", a.describe());
    auto attr = [](const H5Reader& r, const char* n) { return r.has_attr(n) ? r.attr_string(n) : std::string(); };
    // The model's bytes (`model`); files from before it was recorded are
    // compared by their backbone description. Descriptions are compared up
    // to the PCA, whose text says how it was made (fitted here, or from a
    // file); the projection itself is compared below.
    auto net = [](const std::string& d) { return d.substr(0, d.find(" -> ")); };
    auto pre = [](const std::string& d) { return d.substr(0, d.find(", PCA")); };
    const bool fingerprints = !attr(ref, "model").empty() && !attr(nw, "model").empty();
    const std::vector<std::pair<const char*, bool>> checks{
        {"model", fingerprints}, {"backbone", !fingerprints}, {"preprocessing", true}};
    for (const auto& [n, on] : checks) {
      const std::string x = attr(ref, n), y = attr(nw, n);
      const std::string name = n;
      const bool same = name == "backbone" ? net(x) == net(y) : name == "preprocessing" ? pre(x) == pre(y) : x == y;
      require(!on || x.empty() || y.empty() || same, "assign: backbone mismatch: ", in.new_features, " has ", n, " '",
              y, "' but the run's ", in.reference, " has '", x, "'");
    }
    // A projection (PCA) fitted on the run's rows must be the one applied to
    // the new rows: compare every stored /pca_* dataset bit for bit.
    for (const char* d : {"/pca_mean", "/pca_components", "/pca_variances", "/pca_whiten_scales"}) {
      const bool ha = ref.has(d), hb = nw.has(d);
      const char* how = ha && hb ? " different from the run's " : ", which the run's ";
      require(ha == hb && (!ha || ref.read_all<double>(d) == nw.read_all<double>(d)), "assign: projection mismatch: ",
              in.new_features, (hb ? " has " : " lacks "), d, how, in.reference, ha && hb ? "" : ha ? " has" : " lacks",
              ": extract the new images with the run's PCA (extract.pca_from)");
    }
  });
}

std::string inputs_identity(const AssignParams& p, Communicator& comm) {
  const Inputs in = resolve_inputs(p, comm);
  std::string id;
  for (const std::string& f : {in.reference, in.kmeans, in.scan, in.knn, in.gmm})
    id += (f.empty() ? std::string("-") : file_identity(f)) + ";";
  if (p.source.empty()) return id + "features " + file_identity(in.new_features);
  return id + "source " + extract_stage().identity(replay_params(p, in), comm);
}

}  // namespace distclust::assign
