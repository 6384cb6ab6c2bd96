// Folder source: image files under a root, found recursively. With class
// subfolders (torchvision ImageFolder layout) the label of a file is the index
// of its first-level folder among the sorted folder names; otherwise -1.
//
// Rows are the files' paths relative to the root in byte order (the same on
// every rank and every run). Hidden entries (".name") are skipped, unlike
// torchvision, so that ".ipynb_checkpoints" or ".snapshot" do not become
// classes. Symbolic links are followed; a directory reached twice (a link
// loop) is walked once.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <map>
#include <set>
#include <system_error>
#include <utility>

#include "distclust/error.h"
#include "distclust/log.h"
#include "extract/sources.h"

namespace fs = std::filesystem;

namespace distclust::extract {
namespace {

using Visited = std::set<std::pair<dev_t, ino_t>>;

bool hidden(const fs::path& p) {
  std::string n = p.filename().string();
  return !n.empty() && n[0] == '.';
}

/// name cut to its first 100 and last 60 bytes: a path near PATH_MAX
/// (4096 bytes) in a warning hides the line it is on.
std::string shortened(const std::string& name) {
  return name.size() <= 200 ? name : name.substr(0, 100) + "..." + name.substr(name.size() - 60);
}

// Entries with an image name that are not files: dangling links, pipes,
// sockets, devices. Skipped, counted and named in one warning. And
// entries that cannot be looked at (a folder whose path is over PATH_MAX,
// a link loop): skipped, counted and named with the reason in another;
// their images were left out with no word.
struct Skipped {
  int64_t count = 0, unreadable = 0;
  std::string example, unreadable_example;
  void add(const std::string& name) {
    if (count++ == 0) example = name;
  }
  void add_unreadable(const std::string& name, const std::error_code& ec) {
    if (unreadable++ == 0) unreadable_example = shortened(name) + " (" + ec.message() + ")";
  }
  void add_unreadable_of(const Skipped& o) {
    if (o.unreadable && !unreadable) unreadable_example = o.unreadable_example;
    unreadable += o.unreadable;
  }
  // Files whose names are not an image type's (.gif, .txt, .json): left
  // out, which was right, but without a word ("12 images" of 13 files).
  // Counted by extension for one info line.
  std::map<std::string, int64_t> others;
  std::string other_example;
  void add_other(const std::string& name) {
    const size_t dot = name.rfind('.'), slash = name.rfind('/');
    const bool ext = dot != std::string::npos && (slash == std::string::npos || dot > slash);
    if (others.empty()) other_example = shortened(name);
    ++others[ext ? name.substr(dot) : "no extension"];
  }
  void add_others_of(const Skipped& o) {
    if (others.empty()) other_example = o.other_example;
    for (const auto& [e, n] : o.others) others[e] += n;
  }
  std::string others_line() const {
    int64_t total = 0;
    std::string by;
    for (const auto& [e, n] : others) total += n, by += (by.empty() ? "" : ", ") + e + " " + std::to_string(n);
    return fmt(total, total == 1 ? " file that is not an image by its name skipped (" :
                                   " files that are not images by their names skipped (", by, "), e.g. ", other_example);
  }
};

/// Whether entry e (named `name` in messages) is a folder, links followed.
/// One that cannot be looked at is counted as such and is no folder; but a
/// dangling link with an image name is left to the caller, which counts it
/// with the images that are not files.
bool is_folder(const fs::directory_entry& e, const std::string& name, Skipped& skipped) {
  std::error_code ec;
  const bool dir = e.is_directory(ec);
  if (ec && !(ec == std::errc::no_such_file_or_directory && has_image_extension(name)))
    skipped.add_unreadable(name, ec);
  return !ec && dir;
}

// Appends image files under dir (relative to the root as rel/...) to out.
void walk(const fs::path& dir, const std::string& rel, Visited& seen, std::vector<std::string>& out,
          Skipped& skipped) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return skipped.add_unreadable(rel, std::error_code(errno, std::generic_category()));
  if (!seen.insert({st.st_dev, st.st_ino}).second) return;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  require(!ec, "folder source: cannot list directory ", dir.string(), ": ", ec.message());
  for (fs::directory_iterator end; it != end; it.increment(ec)) {
    require(!ec, "folder source: error while listing ", dir.string(), ": ", ec.message());
    const fs::path& p = it->path();
    if (hidden(p)) continue;
    std::string name = rel + p.filename().string();
    std::error_code e2;
    if (is_folder(*it, name, skipped)) walk(p, name + "/", seen, out, skipped);
    else if (!has_image_extension(name)) skipped.add_other(name);
    else if (it->is_regular_file(e2)) out.push_back(name);
    else skipped.add(name);
  }
}

using Files = std::vector<std::pair<std::string, int32_t>>;  ///< (path relative to the root, label)

/// The root's first level: its (non-hidden) subfolders, sorted, and how
/// many image files lie directly in it.
struct TopLevel {
  std::vector<std::string> dirs;
  int64_t files = 0;
};

/// Entries that cannot be looked at go to `skipped` (a class folder linked
/// to a file system that is not mounted).
TopLevel list_top(const std::string& root, Skipped& skipped) {
  TopLevel top;
  std::error_code ec;
  fs::directory_iterator it(root, ec);
  require(!ec, "folder source: cannot list directory ", root, ": ", ec.message());
  for (fs::directory_iterator end; it != end; it.increment(ec)) {
    require(!ec, "folder source: error while listing ", root, ": ", ec.message());
    if (hidden(it->path())) continue;
    std::error_code e2;
    const std::string name = it->path().filename().string();
    if (is_folder(*it, name, skipped)) top.dirs.push_back(name);
    else if (has_image_extension(it->path().string()) && it->is_regular_file(e2)) ++top.files;
    else if (!has_image_extension(name)) skipped.add_other(name);
  }
  std::sort(top.dirs.begin(), top.dirs.end());
  return top;
}

/// Every class folder's images, labelled by the folder's index in top.dirs.
Files list_classes(const std::string& root, const TopLevel& top, Skipped& skipped) {
  if (top.files > 0)
    log::warn_once("folder source ", root, ": ", top.files,
                   " image files directly in the root are ignored (folder_labels: yes; images belong in class folders)");
  Files files;
  struct stat st {};
  const bool root_known = ::stat(root.c_str(), &st) == 0;
  const std::pair<dev_t, ino_t> root_id{st.st_dev, st.st_ino};
  std::map<std::pair<dev_t, ino_t>, size_t> class_of;  // a class folder's directory -> its first class
  for (size_t c = 0; c < top.dirs.size(); ++c) {
    // Each class lists its own folder, as torchvision's ImageFolder
    // does: a class folder that links to another's gets its images too
    // (one set of visited folders for all classes gave them all to the
    // first and said the other "holds no images"). Within a class each
    // folder is listed once, which also ends link loops.
    Visited seen;
    if (root_known) seen.insert(root_id);
    const fs::path dir = fs::path(root) / top.dirs[c];
    if (::stat(dir.c_str(), &st) == 0) {
      const auto [at, fresh] = class_of.insert({{st.st_dev, st.st_ino}, c});
      if (!fresh)
        log::warn_once("folder source ", root, ": class folder '", top.dirs[c], "' is the folder of class '",
                       top.dirs[at->second], "' (a link): its images are listed under both classes, as "
                       "torchvision's ImageFolder lists them");
    }
    std::vector<std::string> found;
    walk(dir, top.dirs[c] + "/", seen, found, skipped);
    if (found.empty())
      log::warn_once("folder source ", root, ": class folder '", top.dirs[c],
                     "' holds no images (its label ", c, " is kept so labels match torchvision's ImageFolder)");
    for (auto& f : found) files.emplace_back(std::move(f), static_cast<int32_t>(c));
  }
  return files;
}

/// Every image under the root, unlabelled (-1).
Files list_unlabelled(const std::string& root, const TopLevel& top, const std::string& folder_labels,
                      Skipped& skipped) {
  // Images beside subfolders: no classes (which would a loose image
  // be?), but say so: the subfolders' labels were dropped silently.
  if (folder_labels == "auto" && top.files > 0 && !top.dirs.empty())
    log::warn_once("folder source ", root, ": no labels: ", top.files, " image files lie directly in it beside ",
                   top.dirs.size(), " subfolders, so the subfolders are not taken as classes (folder_labels: yes "
                   "takes them and ignores the loose files)");
  Visited seen;
  std::vector<std::string> found;
  walk(root, "", seen, found, skipped);
  Files files;
  for (auto& f : found) files.emplace_back(std::move(f), -1);
  return files;
}

class FolderSource : public ImageSource {
 public:
  explicit FolderSource(const SourceParams& p) : max_bytes_(p.max_file_bytes) {
    path_ = p.path;
    std::error_code ec;
    require(fs::is_directory(p.path, ec), "folder source ", p.path, ": not a directory (or does not exist)");
    root_ = p.path;
    if (root_.back() != '/') root_ += '/';
    Skipped top_skipped;  // the root's entries: walked again when there are no classes
    const TopLevel top = list_top(p.path, top_skipped);
    const bool classes = p.folder_labels == "yes" || (p.folder_labels == "auto" && top.files == 0 && !top.dirs.empty());
    Skipped skipped;
    Files files = classes ? list_classes(p.path, top, skipped) : list_unlabelled(p.path, top, p.folder_labels, skipped);
    if (classes) classes_ = top.dirs, skipped.add_unreadable_of(top_skipped), skipped.add_others_of(top_skipped);
    if (!skipped.others.empty()) {  // listed twice (the config hash, the work): said once
      const std::string line = fmt("folder source ", p.path, ": ", skipped.others_line());
      if (log::first_time(line)) log::info(line);
    }
    if (skipped.count)
      log::warn_once("folder source ", p.path, ": ", skipped.count,
                " entries with an image name skipped: not regular files (dangling links, pipes, sockets), e.g. ",
                skipped.example);
    if (skipped.unreadable)
      log::warn_once("folder source ", p.path, ": ", skipped.unreadable,
                     " entries skipped that could not be looked at (their images, if any, are left out), e.g. ",
                     skipped.unreadable_example);
    require(!files.empty(), "folder source ", p.path,
            ": no image files (.jpg .jpeg .png .bmp .tif .tiff .webp, any case) found in it or below it");

    std::sort(files.begin(), files.end());
    labels_.reserve(files.size());
    for (auto& f : files) {
      rel_.add(f.first);
      labels_.push_back(f.second);
    }
    rel_.shrink();
  }

  int64_t size() const override { return rel_.size(); }
  std::string id(int64_t i) const override {
    check_row(i);
    return root_ + rel_[i];
  }
  int64_t label(int64_t i) const override {
    check_row(i);
    return labels_[i];
  }
  std::vector<std::string> class_names() const override { return classes_; }
  RawImage read(int64_t i) const override {
    check_row(i);
    RawImage r;
    r.bytes = read_file_bytes(root_ + rel_[i], max_bytes_);
    return r;
  }
  std::string kind() const override { return "folder"; }

 private:
  std::string root_;  // ends in '/'
  PathTable rel_;
  std::vector<int32_t> labels_;
  std::vector<std::string> classes_;
  int64_t max_bytes_;
};

}  // namespace

std::unique_ptr<ImageSource> open_folder_source(const SourceParams& p) {
  return std::make_unique<FolderSource>(p);
}

}  // namespace distclust::extract
