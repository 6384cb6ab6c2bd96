// `distclust assign` as a stage (core/stage.h) and its run.
#include "assign/assign_parts.h"

#include <cctype>
#include <filesystem>

#include "distclust/error.h"
#include "distclust/log.h"
#include "io/input_watch.h"
#include "io/out_dir.h"
#include "io/output_lock.h"
#include "io/replace_rule.h"
#include "kmeans/kmeans_file.h"

namespace distclust {

namespace fs = std::filesystem;

void AssignParams::validate() const {
  require(!source.empty() || !features.empty(), "assign: no new rows given: --source DIR (images) or --features F.h5");
  require(source.empty() || features.empty(), "assign: --source ", source, " and --features ", features,
          " both given: pass one (images are extracted into --features-out)");
  require(!out.empty(), "assign.out: no output file given (--out assign.h5)");
  // --out new.csv (the file a user wants) met the CSV of an earlier assign
  // with "exists and is not a distclust output".
  std::string ext = fs::path(out).extension().string();
  for (char& ch : ext) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  require(ext != ".csv", "assign.out: ", out, " is the HDF5 predictions file (e.g. --out ",
          fs::path(out).replace_extension(".h5").string(), "); the CSV is written beside it, as ",
          fs::path(out).replace_extension(".csv").string(), " (or where --csv says)");
  require(csv.empty() || csv != out, "assign.csv: ", csv, " is also --out");
  require(backbone.empty() || !source.empty(), "assign.backbone: ", backbone,
          " is given without --source (it names the model that extracts new images)");
}

namespace {

/// Every file written (the features extracted from --source too) apart from
/// every file and folder read. The stage's precheck: before the overwrite
/// rule, which would otherwise advise --force for what --force cannot lift.
void refuse_outputs_over_inputs(const AssignParams& p, Communicator& comm) {
  const assign::Inputs in = assign::resolve_inputs(p, comm);
  const std::string extracted = p.source.empty() ? "" : in.new_features;
  for (const std::string& out : {p.out, in.csv, extracted}) {
    // The option to change, as the user gave it (the CSV defaults to OUT with .csv).
    const std::string flag = out == p.out               ? "--out"
                             : out != in.csv            ? "--features-out"
                             : p.csv.empty()            ? "--csv (default: --out with .csv)"
                                                        : "--csv";
    require_apart(out, {in.reference, in.kmeans, in.scan, in.gmm, in.knn,
                        out == extracted ? std::string() : in.new_features}, flag);
    require_not_over(out, p.source);  // a file inside the images folder replaces nothing
  }
}

/// The CSV's and --features-out's names: not in a running workdir, none
/// the other or --out (as the file system resolves them), the CSV
/// replaceable. Collective.
void check_side_outputs(const AssignParams& p, const assign::Inputs& in, Communicator& comm) {
  const std::string extracted = p.source.empty() ? "" : in.new_features;
  for (const std::string& out : {in.csv, extracted})
    if (!out.empty()) OutputLock::require_no_run_in(out, comm);
  // As the file system resolves them: --csv ./t/n.h5 beside --out t/n.h5
  // passed the string check, and the CSV's rename failed after OUT's commit.
  auto same = [](const std::string& a, const std::string& b) {
    std::error_code ea, eb;
    return fs::weakly_canonical(fs::absolute(a), ea) == fs::weakly_canonical(fs::absolute(b), eb);
  };
  require(!same(in.csv, p.out), "assign.csv: ", in.csv, " is also --out ", p.out);
  require_output_name("assign.csv", in.csv);
  if (!extracted.empty()) require_output_name("assign.features_out", extracted);
  require(extracted.empty() || (!same(extracted, p.out) && !same(extracted, in.csv)), "assign: --features-out ",
          extracted, " is also an output of this command");
  require_replaceable_text("assign", in.csv, assign::kCsvHeader, p.force, comm);
}

/// Each local row's cluster and confidence [n]: SCAN's when the run has it,
/// else gmm's, else k-means' (as eval, report and export choose among a
/// run's outputs); -1 for an invalid row (k-means' own column too).
/// Returns the invalid rows of this rank.
int64_t choose_clusters(const FeatureBlock& b, const AssignSummary& s, assign::KMeansOut& km,
                        const assign::ScanOut& sc, const assign::GMMOut& gm, std::vector<int64_t>& assign,
                        std::vector<float>& conf) {
  const int64_t n = b.local_rows();
  assign.assign(size_t(n), -1);
  conf.assign(size_t(n), 0.f);
  int64_t invalid = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (!b.valid[i]) {
      ++invalid;
      if (s.kmeans) km.assign[i] = -1;
      continue;
    }
    if (s.scan) {
      const float* pi = sc.prob.data() + i * sc.c;
      assign[i] = std::max_element(pi, pi + sc.c) - pi;
      conf[i] = pi[assign[i]];
    } else if (s.gmm) {
      assign[i] = gm.assign[i];
      conf[i] = gm.confidence[i];
    } else {
      assign[i] = km.assign[i];
      conf[i] = km.confidence[i];
    }
  }
  return invalid;
}

}  // namespace

AssignSummary run_assign(const AssignParams& p, Communicator& comm, const StageConfig& cfg) {
  p.validate();
  const assign::Inputs in = assign::resolve_inputs(p, comm);
  if (!in.ignored.empty() && comm.rank() == 0)
    log::info("assign: not used: ", in.ignored, " (left from an earlier run: ", p.run,
              "/config.resolved.yaml's run.stages does not make it; name it, e.g. --scan, to use it)");
  // The run's models and the new features must not change until the commit
  // (io/input_watch.h): a kmeans.h5 replaced mid-assign gave assignments to
  // the old centroids under the new file's name. Features this command
  // extracts from --source are its own output, not watched.
  const InputWatch watch({in.reference, in.kmeans, in.scan, in.gmm, in.knn, p.source.empty() ? in.new_features : ""},
                         comm);
  check_side_outputs(p, in, comm);
  assign::refuse_embedding_clusters(in);
  assign::refuse_foreign_models(in, comm);
  assign::extract_new_rows(p, in, comm);
  assign::check_same_features(in, comm);
  FeatureBlock b = read_features(in.new_features, comm);
  // L2 models (gmm, euclidean k-means) measure distances the scale can lose.
  const bool l2 = !in.gmm.empty() || (!in.kmeans.empty() && !read_kmeans_model(in.kmeans).spherical);
  check_finite(b, in.new_features, comm, l2 ? "assign" : "");
  AssignSummary s;
  assign::KMeansOut km;
  assign::ScanOut sc;
  assign::GMMOut gm;
  s.kmeans = !in.kmeans.empty();
  s.scan = !in.scan.empty();
  s.gmm = !in.gmm.empty();
  if (s.kmeans) km = assign::apply_kmeans(in.kmeans, b);
  if (s.gmm) gm = assign::apply_gmm(in.gmm, b);
  if (s.scan) sc = assign::apply_scan(in, b, comm);
  std::vector<int64_t> assign;
  std::vector<float> conf;
  const int64_t invalid = choose_clusters(b, s, km, sc, gm, assign, conf);
  assign::write_outputs(p, in, b, s.kmeans ? &km : nullptr, s.scan ? &sc : nullptr, s.gmm ? &gm : nullptr, assign,
                        conf, cfg, comm);
  s.rows = b.n_total;
  s.invalid = comm.sum(invalid);
  s.gate_proposed = sc.gate_proposed;
  s.gate_kept = sc.gate_kept;
  if (comm.rank() == 0)
    log::info("assign: wrote ", p.out, " and ", in.csv, ": ", s.rows, " rows (", s.invalid, " invalid) assigned with ",
              s.scan ? "the SCAN head of " + in.scan + (s.gmm || s.kmeans ? ", " : "") : std::string(),
              s.gmm ? "the mixture of " + in.gmm + (s.kmeans ? ", " : "") : std::string(),
              s.kmeans ? "the centroids of " + in.kmeans : std::string());
  return s;
}

const StageDef<AssignParams>& assign_stage() {
  static const StageDef<AssignParams> def{
      "assign",
      {"assign"},
      "New images or features -> clusters of a finished run (nearest k-means centroid, the mixture, the SCAN head)",
      "assign.h5",
      {"run", "source", "features", "reference", "kmeans", "scan", "gmm", "knn", "out", "csv", "features_out", "backbone", "force"},
      [](AssignParams& p, const RunLayout& w) {
        p.run = w.workdir;
        p.reference = w.features();
        p.out = w.file("assign.h5");
      },
      [](const AssignParams& p) { return p.out; },
      nullptr,
      assign::inputs_identity,
      [](const AssignParams& p, Communicator&) {
        return p.source.empty() && p.features.empty() ? std::string("no new images (set assign.source)") : "";
      },
      [](const AssignParams& p, Communicator& comm, const StageConfig& cfg) {
        const AssignSummary s = run_assign(p, comm, cfg);
        return StageOutcome{{fmt("assign: ", s.rows, " new rows, ", s.invalid, " invalid",
                                 s.gate_proposed ? fmt(", gate kept ", s.gate_kept, " of ", s.gate_proposed, " moves")
                                                 : std::string())}};
      },
      /*precheck=*/[](const AssignParams& p, Communicator& comm) { refuse_outputs_over_inputs(p, comm); },
      /*compute_hashed=*/true};
  return def;
}

}  // namespace distclust
