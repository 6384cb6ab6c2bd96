// `distclust export`: assignments.csv and per-cluster folders of links.
#include "export/export.h"

#include "io/replace_rule.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>

#include "comm/local_comm.h"

#include "distclust/config.h"
#include "distclust/error.h"
#include "export/duplicates_csv.h"
#include "export/export_inputs.h"
#include "extract/features_file.h"
#include "io/h5store.h"
#include "io/output_identity.h"
#include "distclust/log.h"
#include "report/clustering.h"
#include "export/csv.h"
#include "io/h5_strings.h"
#include "io/out_dir.h"
#include "io/text_file.h"
#include "comm/root.h"

namespace fs = std::filesystem;

namespace distclust {

void ExportParams::validate() const {
  require(!features.empty(), "export.features: no features file given (--features features.h5)");
  require(!pred.empty() || !duplicates.empty(),
          "export.pred: no predictions file given (--pred scan.h5 or kmeans.h5; without one, export writes only "
          "--duplicates)");
  require(!out.empty(), "export.out: no output folder given (--out export)");
  if (duplicates.empty()) return;
  duplicate_threshold();  // a number; its range depends on the graph's metric (checked when it is read)
  require(!knn.empty(), "export.duplicates is ", duplicates, " but no kNN graph is given (--knn knn.h5)");
}

double ExportParams::duplicate_threshold() const {
  double t = 0;
  parse_value("export.duplicates", duplicates, t);
  return t;
}

namespace report {
namespace {

// ROW_NAME, unique by the row prefix; long names are shortened (file names
// have a 255-byte limit) keeping the extension.
std::string entry_name(int64_t row, int width, const std::string& path) {
  std::string base = fs::path(path).filename().string();
  if (base.empty() || base == "." || base == "..") base = "image";
  if (base.size() > 200) {
    std::string ext = fs::path(base).extension().string();
    if (ext.size() > 16) ext.clear();
    size_t cut = 200 - ext.size();
    // Back to a character boundary: a UTF-8 continuation byte is 10xxxxxx.
    while (cut > 0 && (static_cast<unsigned char>(base[cut]) & 0xC0) == 0x80) --cut;
    base = base.substr(0, cut) + ext;
  }
  char b[32];
  std::snprintf(b, sizeof(b), "%0*lld_", width, static_cast<long long>(row));
  return b + base;
}

std::string conf_text(float v) {
  char b[32];
  std::snprintf(b, sizeof(b), "%.6g", double(v));
  return b;
}

/// The cluster folders: one row's image linked (or copied) into
/// clusters/NNN/ROW_NAME, with the counts and the first failure kept for
/// the summary and the errors.
class ClusterLinker {
 public:
  ClusterLinker(const ExportParams& p, const fs::path& root, int64_t k, int64_t n, ExportSummary& s)
      : p_(p), root_(root), made_(static_cast<size_t>(k), 0), s_(s),
        width_(std::max<int>(6, int(std::to_string(std::max<int64_t>(n - 1, 0)).size()))) {
    std::error_code ec;
    fs::create_directories(root_ / "clusters", ec);
    require(!ec, "export: cannot create ", (root_ / "clusters").string(), ": ", ec.message());
  }

  /// Row i (cluster c, a file path) into its folder; src's folder added to source_dirs.
  void link(int64_t i, int64_t c, const std::string& path, std::set<std::string>& source_dirs) {
    fs::path src = resolve_image_path(path, p_.image_root);
    source_dirs.insert(src.parent_path().string());
    std::error_code ec;
    const fs::file_status st = fs::status(src, ec);
    if (ec || !fs::is_regular_file(st)) {
      // The system's reason: a path over PATH_MAX read as "not a readable file".
      const std::string why = ec ? ec.message() : fs::exists(st) ? "not a regular file" : "does not exist";
      if (s_.missing == 0) first_missing_ = path, first_missing_why_ = why;
      if (s_.missing++ < 5)
        log::warn("export: row ", i, ": ", path, " is not a readable file (", why, "); left out of the folders");
      return;
    }
    fs::path sub = root_ / "clusters" / cluster_folder_name(c);
    if (!made_[size_t(c)]) {
      fs::create_directories(sub, ec);
      if (ec) {  // counted with the links it would hold (no inodes left, ...)
        if (s_.failed++ == 0) first_failure_ = fmt("create ", sub.string(), ": ", ec.message());
        return;
      }
      made_[size_t(c)] = 1;
      ++s_.clusters;
    }
    fs::path dst = sub / entry_name(i, width_, path);
    if (p_.copy) {
      fs::copy_file(src, dst, fs::copy_options::overwrite_existing, ec);
    } else {
      // Absolute targets: the export folder can be moved and its links still resolve.
      fs::create_symlink(fs::absolute(src).lexically_normal(), dst, ec);
    }
    if (ec) {  // the file is there: the output side failed (no space, no inodes, ...)
      if (s_.failed++ == 0)
        first_failure_ = fmt("row ", i, ": ", p_.copy ? "copy " : "link ", dst.string(), ": ", ec.message());
      return;
    }
    ++s_.linked;
  }

  /// Throws when a link failed, or when no image path at all was found.
  void check(const StagedDir& dir) const {
    require(s_.failed == 0, "export: ", s_.failed, " of ", s_.failed + s_.linked, " images could not be ",
            p_.copy ? "copied" : "linked", " into the cluster folders (first: ", first_failure_, "); ", dir.out(),
            " was not written");
    // Not one image found: relative paths from a features file made in
    // another folder (files written since /ids became absolute do not have
    // them), or the images moved. A folder of empty clusters is no export.
    if (s_.missing > 0 && s_.linked == 0)
      throw Error(fmt("export: none of the ", s_.missing, " image paths in ", p_.features,
                      " is a readable file (first: ", first_missing_, ", looked for at ",
                      fs::absolute(resolve_image_path(first_missing_, p_.image_root)).string(), ": ",
                      first_missing_why_, "): relative paths are resolved from --image-root (default: the current folder); pass the "
                      "folder extract ran in, or extract again (new features files store absolute paths); ",
                      dir.out(), " was not written"));
  }

 private:
  const ExportParams& p_;
  const fs::path root_;
  std::vector<char> made_;  ///< [k] cluster folder created
  ExportSummary& s_;
  const int width_;         ///< digits of the row prefix
  std::string first_failure_, first_missing_, first_missing_why_;
};

/// One assignments.csv line for row i.
std::string csv_row(const Clustering& cl, int64_t i, const std::string& path) {
  const int64_t c = cl.assign[i];
  const std::string conf = c >= 0 && !cl.confidence.empty() ? conf_text(cl.confidence[i]) : "";
  const int64_t lab = cl.labels.empty() ? -1 : cl.labels[i];
  // The stored name only ("" when the features file names no classes), not class_name()'s "class 3".
  const std::string name = lab >= 0 && lab < int64_t(cl.class_names.size()) ? cl.class_names[lab] : "";
  return csv_line({std::to_string(i), spreadsheet_safe(path), std::to_string(c), conf,
                   lab >= 0 ? std::to_string(lab) : "", spreadsheet_safe(name)});
}

// assignments.csv and the cluster folders into dir; source_dirs gets the
// folders of the images linked (inputs that --force must not delete).
void write_assignments(const ExportParams& p, const Clustering& cl, const StagedDir& dir, ExportSummary& s,
                       std::set<std::string>& source_dirs) {
  const fs::path root(dir.path());
  std::string csv_path = (root / "assignments.csv").string();
  std::ofstream csv(csv_path, std::ios::binary);
  require(static_cast<bool>(csv), "export: cannot write ", csv_path);
  csv << "row,path,cluster,confidence,label,class_name\n";
  const bool folders = p.folders && cl.has_paths;
  std::unique_ptr<ClusterLinker> linker = folders ? std::make_unique<ClusterLinker>(p, root, cl.k, cl.n, s) : nullptr;
  H5Strings ids(cl.features);
  const int64_t block = 65536;
  for (int64_t b = 0; b < cl.n; b += block) {
    RowRange r{b, std::min(cl.n, b + block)};
    std::vector<std::string> paths = cl.has_paths ? ids.read_range("/ids", r) : std::vector<std::string>(r.size());
    for (int64_t i = r.begin; i < r.end; ++i) {
      const std::string& path = paths[i - r.begin];
      csv << csv_row(cl, i, path);
      ++s.rows;
      if (cl.assign[i] < 0) {
        ++s.invalid;
      } else if (path.empty() || is_array_row_id(path)) {  // no path, or a row of an HDF5 array / CIFAR batch
        ++s.no_path;
      } else if (linker) {
        linker->link(i, cl.assign[i], path, source_dirs);
      }
    }
  }
  close_checked(csv, csv_path, "export");
  csv.close();
  if (linker) linker->check(dir);
  if (s.missing)
    log::warn("export: ", s.missing, " rows with a path could not be ", p.copy ? "copied" : "linked",
              " (missing or unreadable files); they are in the CSV only");
  log::info("export: ", s.rows, " rows in assignments.csv (", s.invalid, " invalid), ",
            folders ? fmt(s.linked, " images ", p.copy ? "copied" : "linked", " into ", s.clusters, " cluster folders")
                    : std::string(cl.has_paths ? "no folders (--no-folders)" : "no folders (/ids holds no paths)"),
            folders && s.no_path ? fmt("; ", s.no_path,
                                       " rows are records in an HDF5 array or CIFAR batch (ids FILE:INDEX) or have no "
                                       "path, not image files: in the CSV only")
                                 : std::string());
}

ExportSummary write_export(const ExportParams& p, const Clustering& cl, const NearDuplicates* dups,
                           const std::string& hash) {
  auto t0 = std::chrono::steady_clock::now();
  StagedDir dir(p.out, /*force=*/true);  // replace_rule.h decided already
  ExportSummary s;
  std::set<std::string> source_dirs;
  if (!p.pred.empty()) write_assignments(p, cl, dir, s, source_dirs);
  if (dups) {
    write_duplicates(dir.path(), *dups, p.features, p.pred.empty() ? nullptr : &cl.assign);
    s.duplicate_groups = int64_t(dups->groups.size());
    s.duplicate_rows = dups->rows_in_groups();
  }
  std::vector<std::string> inputs{p.features, p.pred, p.knn};
  inputs.insert(inputs.end(), source_dirs.begin(), source_dirs.end());
  require_apart(dir.out(), inputs);
  write_export_inputs(dir.path(), p.features, p.pred);  // a report linking it checks them
  dir.commit(hash, "export");
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  log::info("export: wrote ", dir.out(), " in ", secs, " s");
  return s;
}

// The near-duplicate groups of --knn at --duplicates (collective), after
// checking that the graph was built from these features.
NearDuplicates near_duplicates(const ExportParams& p, Communicator& comm) {
  auto [n, d] = features_shape(p.features, comm);
  (void)d;
  NearDuplicates dups = find_near_duplicates(p.knn, p.duplicate_threshold(), "export.duplicates", comm);
  require(dups.n == n, "export: ", p.features, " has ", n, " rows but ", p.knn, " has ", dups.n,
          " rows: the kNN graph was not built from these features");
  run_on_root(comm, "export", [&] {
    LocalCommunicator self;
    H5Reader r(p.knn, self);
    const std::string built = r.has_attr("features_config_hash") ? r.attr_string("features_config_hash") : "";
    const std::string now = file_identity(p.features);
    require(built.empty() || built == now, "export: ", p.knn, " was built from features ", built, " but ",
            p.features, " is now ", now, ": the files do not belong together (rebuild ", p.knn, ")");
    const int64_t rows = dups.rows_in_groups(), largest = dups.groups.empty() ? 0 : int64_t(dups.groups[0].size());
    log::info("export: near-duplicates in ", p.knn, " (", dups.rule.metric, ", k=", dups.k, ") at ",
              dups.rule.describe(), ": ", dups.groups.size(), " groups, ", rows, " rows, largest ", largest);
    if (dups.rule.metric == "cosine" && dups.rule.threshold >= 1)
      log::warn("export: cosine similarity >= 1 misses identical images that score 0.9999999 (float rounding); "
                "--duplicates 0.9999 finds exact copies");
    // A threshold far from "duplicate" chains most of the collection into one group.
    if (largest > 2 && largest * 10 > n)
      log::warn("export: the largest near-duplicate group holds ", largest, " of ", n, " rows: ",
                dups.rule.describe(), " joins more than near-duplicates (try a threshold closer to ",
                dups.rule.metric == "l2" ? "0" : "1", ")");
  });
  return dups;
}

}  // namespace
}  // namespace report

void require_export_apart(const ExportParams& p, Communicator& comm) {
  run_on_root(comm, "export", [&] {
    require_apart(p.out, {p.features, p.pred, p.knn, report::image_folder_of(p.features)});
  });
}

ExportSummary run_export(const ExportParams& p, Communicator& comm, const std::string& hash) {
  p.validate();
  // An input first (--force cannot help there: it was once advised, and the
  // refusal came after every link was made), then an output not ours.
  require_export_apart(p, comm);
  require_replaceable("export", p.out, p.force, comm);  // io/replace_rule.h
  if (p.duplicates.empty() && !p.knn.empty())
    log::warn_once("export.knn ", p.knn, " is read only for --duplicates T: ignored (no duplicates.csv is written)");
  report::Clustering cl;
  if (!p.pred.empty()) cl = report::load_clustering(p.features, p.pred, comm, "export");
  NearDuplicates dups;
  if (!p.duplicates.empty()) dups = report::near_duplicates(p, comm);
  ExportSummary s;
  run_on_root(comm, "export",
              [&] { s = report::write_export(p, cl, p.duplicates.empty() ? nullptr : &dups, hash); });
  return s;
}

const StageDef<ExportParams>& export_stage() {
  static const StageDef<ExportParams> def{
      "export",
      {"export"},
      "assignments.csv (row,path,cluster,confidence,label,class_name), clusters/cluster_XXXX/ folders of links, "
      "near-duplicate groups (--duplicates)",
      "export",
      {"features", "pred", "knn", "out", "force"},
      [](ExportParams& p, const RunLayout& w) {
        p.features = w.features();
        p.pred = w.predictions();
        if (!p.duplicates.empty()) p.knn = w.output_or("knn", "knn.h5");
        p.out = w.file("export");
        p.force = true;  // a run replaces its own export
      },
      [](const ExportParams& p) { return p.out; },
      [](const ExportParams& p) {
        std::vector<std::string> in{p.features, p.pred};
        if (!p.duplicates.empty()) in.push_back(p.knn);  // the graph counts only when it is read
        return in;
      },
      nullptr,
      nullptr,
      [](const ExportParams& p, Communicator& comm, const StageConfig& cfg) {
        run_export(p, comm, cfg.hash);
        return StageOutcome{};
      },
      require_export_apart,
      /*compute_hashed=*/false,
      /*out_optional=*/false,
      /*optional_inputs=*/nullptr,
      /*checkpoints=*/nullptr,
      /*uses_blas=*/false};
  return def;
}

}  // namespace distclust
