// CIFAR source: the "binary version" batches of CIFAR-10 and CIFAR-100.
//   CIFAR-10:  records of 1 label byte + 3072 pixel bytes (3073);
//              data_batch_1..5.bin (train), test_batch.bin (test).
//   CIFAR-100: records of 2 label bytes (coarse, fine) + 3072 (3074); the fine
//              label is used; train.bin, test.bin.
// Pixels are 32 x 32, channel planes R, G, B, rows top to bottom. The kind is
// told by the official file names (the size must then fit), else by record
// size (divides by exactly one of 3073, 3074; CIFAR-10 on a tie). Class names come from batches.meta.txt
// (CIFAR-10) or fine_label_names.txt (CIFAR-100) beside the batches.
// Rows: batches in order (train before test, data_batch_N by N), records in
// file order. Reads use pread() on descriptors opened once.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>

#include "distclust/error.h"
#include "distclust/log.h"
#include "extract/sources.h"

namespace fs = std::filesystem;

namespace distclust::extract {
namespace {

constexpr int64_t kPixels = 3 * 32 * 32;

struct Batch {
  std::string path;
  int fd = -1;
  int64_t first = 0;  // first global row
  int64_t count = 0;
};

// "data_batch_12.bin" -> 12, for numeric order; -1 when not such a name.
int batch_number(const std::string& name) {
  const std::string pre = "data_batch_";
  if (name.rfind(pre, 0) != 0 || name.size() < pre.size() + 5 || name.substr(name.size() - 4) != ".bin") return -1;
  std::string num = name.substr(pre.size(), name.size() - pre.size() - 4);
  if (num.empty() || num.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoi(num);
}

std::vector<std::string> batches_in(const std::string& dir, const std::string& split) {
  std::vector<std::pair<int, std::string>> train10;
  std::vector<std::string> train, test;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    int n = batch_number(name);
    if (n >= 0) train10.emplace_back(n, it->path().string());
    else if (name == "train.bin") train.push_back(it->path().string());
    else if (name == "test_batch.bin" || name == "test.bin") test.push_back(it->path().string());
  }
  require(!ec, "cifar source ", dir, ": cannot list directory: ", ec.message());
  std::sort(train10.begin(), train10.end());
  std::sort(test.begin(), test.end());
  std::vector<std::string> out;
  if (split != "test") {
    for (auto& t : train10) out.push_back(t.second);
    for (auto& t : train) out.push_back(t);
  }
  if (split != "train")
    for (auto& t : test) out.push_back(t);
  require(!out.empty(), "cifar source ", dir, ": no ", split == "all" ? "" : split + " ",
          "batches (expected data_batch_N.bin / test_batch.bin for CIFAR-10 or train.bin / test.bin for CIFAR-100)");
  return out;
}

std::vector<std::string> read_names(const fs::path& file) {
  std::vector<std::string> names;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    size_t b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos) continue;
    size_t e = line.find_last_not_of(" \t\r");
    names.push_back(line.substr(b, e - b + 1));
  }
  return names;
}

class CifarSource : public ImageSource {
 public:
  explicit CifarSource(const SourceParams& p) {
    path_ = p.path;
    std::error_code ec;
    require(fs::exists(p.path, ec), "cifar source ", p.path, " does not exist");
    std::vector<std::string> files = fs::is_directory(p.path, ec) ? batches_in(p.path, p.cifar_split)
                                                                  : std::vector<std::string>{p.path};
    try {
      for (const auto& f : files) add_batch(f);
      load_class_names(fs::path(files.front()).parent_path());
    } catch (...) {
      close_all();
      throw;
    }
  }
  ~CifarSource() override { close_all(); }

  int64_t size() const override { return n_; }
  std::string id(int64_t i) const override {
    check_row(i);
    const Batch& b = batch_of(i);
    return fmt(b.path, ":", i - b.first);
  }
  int64_t label(int64_t i) const override {
    check_row(i);
    return labels_[i];
  }
  std::vector<std::string> class_names() const override { return classes_; }
  std::string kind() const override { return "cifar"; }

  RawImage read(int64_t i) const override {
    check_row(i);
    const Batch& b = batch_of(i);
    uint8_t rec[kPixels + 2];
    const int64_t at = (i - b.first) * record_ + (record_ - kPixels);
    size_t got = 0;
    while (got < static_cast<size_t>(kPixels)) {
      ssize_t r = ::pread(b.fd, rec + got, kPixels - got, static_cast<off_t>(at + got));
      if (r < 0 && errno == EINTR) continue;
      require(r > 0, b.path, ": record ", i - b.first, ": read failed: ",
              r < 0 ? errno_text(errno) : std::string("file ends early"));
      got += static_cast<size_t>(r);
    }
    RawImage out;
    out.encoded = false;
    out.pixels.create(32, 32, CV_8UC3);
    for (int y = 0; y < 32; ++y) {
      uint8_t* row = out.pixels.ptr<uint8_t>(y);
      for (int x = 0; x < 32; ++x)
        for (int c = 0; c < 3; ++c) row[3 * x + c] = rec[c * 1024 + y * 32 + x];  // planes -> interleaved RGB
    }
    return out;
  }

 private:
  void add_batch(const std::string& file) {
    Batch b;
    b.path = file;
    b.fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    require(b.fd >= 0, "cifar source: cannot open ", file, ": ", errno_text(errno));
    batches_.push_back(b);  // owned now: closed by close_all on error
    struct stat st {};
    require(::fstat(b.fd, &st) == 0 && S_ISREG(st.st_mode), "cifar source: ", file, " is not a regular file");
    const int64_t size = st.st_size;
    require(size > 0, "cifar source: ", file, " is empty (0 bytes)");
    // The official names decide the kind; the size must then fit it (a
    // CIFAR-10 batch cut short was read as CIFAR-100, pixels as labels).
    const std::string name = fs::path(file).filename().string();
    const bool named10 = name.rfind("data_batch_", 0) == 0 || name == "test_batch.bin";
    const bool named100 = name == "train.bin" || name == "test.bin";
    bool is10 = size % 3073 == 0, is100 = size % 3074 == 0;
    if (named10 || named100) {
      const int64_t rec = named10 ? 3073 : 3074;
      require(size % rec == 0, "cifar source: ", file, " is ", size, " bytes, not a whole number of ",
              named10 ? "CIFAR-10" : "CIFAR-100", " records of ", rec, " bytes (", size / rec, " records and ",
              size % rec, " bytes): the file is truncated or damaged");
      is10 = named10;
      is100 = named100;
    }
    require(is10 || is100, "cifar source: ", file, " is ", size,
            " bytes, not a whole number of CIFAR-10 records (3073 bytes) or CIFAR-100 records (3074 bytes)");
    if (is10 && is100) is100 = false;  // an unofficial name fitting both: CIFAR-10
    int64_t record = is100 ? 3074 : 3073;
    require(record_ == 0 || record_ == record, "cifar source ", path_, ": ", file, " holds ",
            is100 ? "CIFAR-100" : "CIFAR-10", " records but earlier batches hold ",
            record_ == 3074 ? "CIFAR-100" : "CIFAR-10", " records");
    record_ = record;
    batches_.back().first = n_;
    batches_.back().count = size / record;
    n_ += size / record;
    const int64_t official = named10 ? 10000 : name == "train.bin" ? 50000 : name == "test.bin" ? 10000 : 0;
    if (official && size / record != official)
      log::warn_once("cifar source: ", file, " holds ", size / record, " records; the official file holds ", official,
                " (a subset, or truncated?)");

    // Labels: one pass over the file in large blocks.
    const int64_t max_label = record == 3074 ? 100 : 10;
    const int64_t per_block = 4096;
    std::vector<uint8_t> buf(static_cast<size_t>(per_block * record));
    for (int64_t r0 = 0; r0 < size / record; r0 += per_block) {
      int64_t nrec = std::min(per_block, size / record - r0);
      size_t want = static_cast<size_t>(nrec * record), got = 0;
      while (got < want) {
        ssize_t r = ::pread(b.fd, buf.data() + got, want - got, static_cast<off_t>(r0 * record + got));
        if (r < 0 && errno == EINTR) continue;
        require(r > 0, "cifar source: ", file, ": read failed: ", r < 0 ? errno_text(errno) : "file ends early");
        got += static_cast<size_t>(r);
      }
      for (int64_t k = 0; k < nrec; ++k) {
        int64_t lab = buf[k * record + (record == 3074 ? 1 : 0)];  // CIFAR-100: byte 1 is the fine label
        require(lab < max_label, "cifar source: ", file, ": record ", r0 + k, " has label ", lab, " (expected < ",
                max_label, " for ", record == 3074 ? "CIFAR-100" : "CIFAR-10", ")");
        labels_.push_back(lab);
      }
    }
  }

  void load_class_names(const fs::path& dir) {
    fs::path f = dir / (record_ == 3074 ? "fine_label_names.txt" : "batches.meta.txt");
    std::error_code ec;
    if (!fs::is_regular_file(f, ec)) return;
    classes_ = read_names(f);
    int64_t need = record_ == 3074 ? 100 : 10;
    if (static_cast<int64_t>(classes_.size()) != need) {
      log::warn("cifar source: ", f.string(), " names ", classes_.size(), " classes (expected ", need,
                "); class names ignored");
      classes_.clear();
    }
  }

  const Batch& batch_of(int64_t i) const {
    auto it = std::upper_bound(batches_.begin(), batches_.end(), i,
                               [](int64_t row, const Batch& b) { return row < b.first; });
    return *(it - 1);
  }

  void close_all() {
    for (auto& b : batches_)
      if (b.fd >= 0) ::close(b.fd);
    batches_.clear();
  }

  std::vector<Batch> batches_;
  int64_t record_ = 0;
  int64_t n_ = 0;
  std::vector<int64_t> labels_;
  std::vector<std::string> classes_;
};

}  // namespace

std::unique_ptr<ImageSource> open_cifar_source(const SourceParams& p) { return std::make_unique<CifarSource>(p); }

}  // namespace distclust::extract
