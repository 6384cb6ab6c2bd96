// List source: a text file with one image a line, "path" or "path,label".
// Relative paths are relative to the list file's folder (so a dataset folder
// with its list can be moved as a whole). Blank lines and lines starting with
// '#' are skipped; surrounding spaces and a trailing '\r' are ignored. The
// label follows the LAST comma, so paths may contain commas when a label is
// given. Label -1 means unknown. A line holding a NUL byte is refused (a
// damaged copy, not text). Files are not checked at open (millions of
// stat calls on a shared file system): a missing one becomes an invalid row.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "distclust/error.h"
#include "extract/sources.h"

namespace fs = std::filesystem;

namespace distclust::extract {
namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

class ListSource : public ImageSource {
 public:
  explicit ListSource(const SourceParams& p) : max_bytes_(p.max_file_bytes) {
    path_ = p.path;
    std::error_code ec;
    require(fs::is_regular_file(p.path, ec), "list source ", p.path, ": not a file (or does not exist)");
    std::ifstream in(p.path);
    require(in.good(), "list source ", p.path, ": cannot open for reading: ", std::strerror(errno));
    fs::path base = fs::path(p.path).parent_path();

    std::string line;
    int64_t lineno = 0;
    while (std::getline(in, line)) {
      ++lineno;
      // Editors on Windows start UTF-8 files with a byte-order mark: not
      // part of the first path.
      // Columns in messages still count it: they are the file's bytes.
      size_t bom = 0;
      if (lineno == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, bom = 3);
      // A NUL ended the label and path as C strings: "path,4\0junk" was read
      // as label 4, "path,\0" as label 0, "x.png\0junk" opened x.png. A list
      // is text; NULs come from a damaged copy (a zero-filled block) or a
      // UTF-16 file, and are refused as any other malformed line is.
      const size_t nul = line.find('\0');
      require(nul == std::string::npos, p.path, ":", lineno, ": NUL byte at column ", bom + nul + 1,
              " (a list is text, one 'path' or 'path,label' a line: is the file damaged, or UTF-16?)");
      std::string t = trim(line);
      if (t.empty() || t[0] == '#') continue;
      std::string file = t;
      int64_t label = -1;
      size_t comma = t.rfind(',');
      if (comma != std::string::npos) {
        file = trim(t.substr(0, comma));
        std::string lab = trim(t.substr(comma + 1));
        char* end = nullptr;
        errno = 0;
        long long v = std::strtoll(lab.c_str(), &end, 10);
        require(!lab.empty() && *end == '\0' && errno == 0, p.path, ":", lineno, ": label '", lab,
                "' is not an integer (expected 'path' or 'path,label' with an integer label >= -1)");
        require(v >= -1, p.path, ":", lineno, ": label ", v, " is negative (expected >= 0, or -1 for unknown)");
        label = v;
      }
      require(!file.empty(), p.path, ":", lineno, ": empty path (expected 'path' or 'path,label')");
      fs::path f(file);
      paths_.add(f.is_absolute() || base.empty() ? file : (base / f).string());
      labels_.push_back(label);
    }
    require(!in.bad(), "list source ", p.path, ": read error after line ", lineno);
    require(paths_.size() > 0, "list source ", p.path, ": no entries (expected one 'path[,label]' a line)");
    paths_.shrink();
  }

  int64_t size() const override { return paths_.size(); }
  std::string id(int64_t i) const override {
    check_row(i);
    return paths_[i];
  }
  int64_t label(int64_t i) const override {
    check_row(i);
    return labels_[i];
  }
  std::vector<std::string> class_names() const override { return {}; }
  RawImage read(int64_t i) const override {
    check_row(i);
    RawImage r;
    r.bytes = read_file_bytes(paths_[i], max_bytes_);
    return r;
  }
  std::string kind() const override { return "list"; }

 private:
  PathTable paths_;
  std::vector<int64_t> labels_;
  int64_t max_bytes_;
};

}  // namespace

std::unique_ptr<ImageSource> open_list_source(const SourceParams& p) { return std::make_unique<ListSource>(p); }

}  // namespace distclust::extract
