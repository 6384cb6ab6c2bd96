// What every image source shares: params validation, the factory that picks
// a source kind from the path, file reading, and the HDF5 lock.

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <filesystem>
#include <system_error>

#include "distclust/error.h"
#include "distclust/log.h"
#include "extract/sources.h"
#include "io/regular_file.h"

namespace fs = std::filesystem;

namespace distclust {

namespace {

bool one_of(const std::string& v, std::initializer_list<const char*> ok) {
  for (const char* o : ok)
    if (v == o) return true;
  return false;
}

std::string extension_lower(const std::string& path) {
  return extract::lower(fs::path(path).extension().string());
}

// A directory that directly holds CIFAR binary batches is a CIFAR source, not
// a folder of images (it has no image files anyway).
bool holds_cifar_batches(const std::string& dir) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name == "test_batch.bin" || name == "train.bin" || name == "test.bin" ||
        (name.rfind("data_batch_", 0) == 0 && extension_lower(name) == ".bin"))
      return true;
  }
  return false;
}

}  // namespace

void SourceParams::validate() const {
  require(!path.empty(), "extract.source is empty: give a folder, list file, HDF5 file or CIFAR batch");
  require(one_of(type, {"auto", "folder", "list", "hdf5", "cifar"}), "extract.source_type is '", type,
          "' (expected auto|folder|list|hdf5|cifar)");
  require(one_of(folder_labels, {"auto", "yes", "no"}), "extract.folder_labels is '", folder_labels,
          "' (expected auto|yes|no)");
  require(!hdf5_images.empty(), "extract.hdf5_images is empty (expected a dataset name such as /images)");
  require(one_of(cifar_split, {"all", "train", "test"}), "extract.cifar_split is '", cifar_split,
          "' (expected all|train|test)");
  require(max_file_bytes > 0, "extract.max_file_bytes is ", max_file_bytes, " (expected > 0)");
}

std::string ImageSource::describe() const {
  auto classes = class_names();
  return fmt(kind(), " source ", path_, ": ", size(), " images",
             classes.empty() ? std::string() : fmt(", ", classes.size(), " classes"));
}

std::string ImageSource::unreadable_hint() const {
  return kind() == "list" ? " (a list file's relative paths are read from the list file's folder)" : "";
}

void ImageSource::check_row(int64_t i) const {
  require(i >= 0 && i < size(), kind(), " source ", path_, ": row ", i, " is out of range [0, ", size(), ")");
}

bool has_image_extension(const std::string& path) {
  std::string e = extension_lower(path);
  return one_of(e, {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"});
}

std::mutex& hdf5_mutex() {
  static std::mutex m;
  return m;
}

std::string absolute_normal_path(const std::string& path, const std::string& cwd) {
  const fs::path joined = fs::path(cwd) / path;
  fs::path n = joined.lexically_normal();
  for (const auto& part : joined)
    if (part == "..") {
      std::error_code ec;
      const fs::path real = fs::weakly_canonical(joined, ec);
      if (!ec) n = real;
      break;
    }
  if (!n.has_filename() && n != n.root_path()) n = n.parent_path();  // "imgs/"
  return n.string();
}

namespace {

/// A source whose row ids are absolute paths ("FILE:INDEX" with FILE
/// absolute), so that report and export find the images from any folder,
/// not only from the one extract ran in. Messages keep the path as given.
class AbsoluteIds final : public ImageSource {
 public:
  explicit AbsoluteIds(std::unique_ptr<ImageSource> in, const std::string& given)
      : in_(std::move(in)), cwd_(fs::current_path().string()) {
    path_ = given;
  }
  int64_t size() const override { return in_->size(); }
  std::string id(int64_t i) const override {
    const std::string s = in_->id(i);
    if (s.empty() || s[0] == '/') return s;
    if (in_->kind() == "hdf5" || in_->kind() == "cifar") {  // FILE:INDEX
      const size_t colon = s.rfind(':');
      if (colon != std::string::npos) return absolute(s.substr(0, colon)) + s.substr(colon);
    }
    return absolute(s);
  }
  std::string listed_id(int64_t i) const override { return in_->id(i); }
  int64_t label(int64_t i) const override { return in_->label(i); }
  std::vector<std::string> class_names() const override { return in_->class_names(); }
  RawImage read(int64_t i) const override { return in_->read(i); }
  std::string kind() const override { return in_->kind(); }

 private:
  std::string absolute(const std::string& rel) const { return absolute_normal_path(rel, cwd_); }
  std::unique_ptr<ImageSource> in_;
  std::string cwd_;
};

std::unique_ptr<ImageSource> open_source_as_given(const SourceParams& p);

}  // namespace

std::unique_ptr<ImageSource> open_source(const SourceParams& p) {
  return std::make_unique<AbsoluteIds>(open_source_as_given(p), p.path);
}

namespace {

/// A field set for another kind of source than `type` does nothing: said,
/// since a user who set --hdf5-images on a folder expects it to count.
void warn_fields_of_other_kinds(const SourceParams& p, const std::string& type) {
  const SourceParams def;
  std::string unused;
  auto note = [&](bool set, const char* name) {
    if (set) unused += (unused.empty() ? "" : ", ") + std::string(name);
  };
  note(type != "hdf5" && p.hdf5_images != def.hdf5_images, "extract.hdf5_images");
  note(type != "hdf5" && p.hdf5_labels != def.hdf5_labels, "extract.hdf5_labels");
  note(type != "folder" && p.folder_labels != def.folder_labels, "extract.folder_labels");
  note(type != "cifar" && p.cifar_split != def.cifar_split, "extract.cifar_split");
  if (!unused.empty())
    log::warn_once(unused, " set for another kind of source: ignored with ", p.path, " (a ", type, " source)");
}

std::unique_ptr<ImageSource> open_source_as_given(const SourceParams& p) {
  p.validate();
  std::string type = p.type;
  if (type == "auto") {
    std::error_code ec;
    auto st = fs::status(p.path, ec);
    require(!ec && fs::exists(st), "source path ", p.path, " does not exist");
    if (fs::is_directory(st)) {
      type = holds_cifar_batches(p.path) ? "cifar" : "folder";
    } else {
      std::string e = extension_lower(p.path);
      if (one_of(e, {".h5", ".hdf5", ".he5"})) type = "hdf5";
      else if (one_of(e, {".txt", ".csv", ".lst", ".list"})) type = "list";
      else if (e == ".bin") type = "cifar";
      else if (has_image_extension(p.path))
        throw Error(fmt("image source ", p.path, " is one image: a source is a folder of images (or a list file ",
                        "of their paths, an HDF5 file, CIFAR batches); put it in a folder and give the folder"));
      else
        throw Error(fmt("cannot tell the kind of image source ", p.path, " from its extension '", e,
                        "' (expected a folder, .h5/.hdf5, .txt/.csv/.lst or .bin): set extract.source_type"));
    }
  }
  warn_fields_of_other_kinds(p, type);
  if (type == "folder") return extract::open_folder_source(p);
  if (type == "list") return extract::open_list_source(p);
  if (type == "hdf5") return extract::open_hdf5_source(p);
  return extract::open_cifar_source(p);
}

}  // namespace

namespace extract {

std::string errno_text(int err) { return std::system_category().message(err); }

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::vector<uint8_t> read_file_bytes(const std::string& path, int64_t max_bytes) {
  // RegularFile: a named pipe or a device given as an image hung extract.
  return RegularFile(path, "").read_all(max_bytes, fmt("extract.max_file_bytes = ", max_bytes));
}

}  // namespace extract
}  // namespace distclust
