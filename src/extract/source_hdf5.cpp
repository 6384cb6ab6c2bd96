// HDF5 source: a uint8 dataset N x H x W x C (C = 1 or 3, RGB order, as numpy
// and h5py store images) or N x H x W (grayscale), plus an optional integer
// labels dataset of N values (N or N x 1) whose optional string attribute
// "class_names" names the classes.
//
// The file is opened serially (H5Fopen with the default access list): each
// rank reads its own rows; no collective I/O is needed for reading. Rows of a
// contiguous, unfiltered dataset are read with pread() at the dataset's file
// offset, with no HDF5 call and no lock, so decode threads run in parallel;
// chunked or compressed datasets go through H5Dread under hdf5_mutex().
#include <fcntl.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <filesystem>

#include <opencv2/imgproc.hpp>

#include "distclust/error.h"
#include "extract/sources.h"
#include "io/h5_strings.h"
#include "io/h5_util.h"

namespace distclust::extract {
namespace {

using h5::Closer;

// The innermost message of HDF5's error stack, then the stack cleared.
std::string h5_error_text() {
  std::string desc;
  auto cb = [](unsigned n, const H5E_error2_t* e, void* out) -> herr_t {
    if (n == 0 && e->desc) *static_cast<std::string*>(out) = e->desc;
    return 0;
  };
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, cb, &desc);
  H5Eclear2(H5E_DEFAULT);
  return desc.empty() ? "unknown HDF5 error" : desc;
}

// Runs an HDF5 call without HDF5 printing its error stack to stderr: the
// caller turns a failure into an Error with the file and dataset named.
template <class F>
auto quiet(F f) {
  decltype(f()) r{};
  H5E_BEGIN_TRY { r = f(); }
  H5E_END_TRY;
  return r;
}

std::string shape_text(const std::vector<hsize_t>& dims) {
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? " x " : "") + std::to_string(dims[i]);
  return dims.empty() ? "a scalar" : s;
}

std::vector<hsize_t> dims_of(hid_t dset) {
  Closer space{H5Dget_space(dset), H5Sclose};
  int rank = H5Sget_simple_extent_ndims(space.id);
  std::vector<hsize_t> dims(rank > 0 ? rank : 0);
  if (rank > 0) H5Sget_simple_extent_dims(space.id, dims.data(), nullptr);
  return dims;
}

// Names of the root group's members, for "no dataset X; the file holds ...".
std::string root_members(hid_t file) {
  std::string names;
  auto cb = [](hid_t, const char* name, const H5L_info_t*, void* out) -> herr_t {
    auto* s = static_cast<std::string*>(out);
    *s += (s->empty() ? "/" : ", /") + std::string(name);
    return 0;
  };
  quiet([&] { return H5Literate(file, H5_INDEX_NAME, H5_ITER_NATIVE, nullptr, cb, &names); });
  return names.empty() ? "nothing" : names;
}

class Hdf5Source : public ImageSource {
 public:
  explicit Hdf5Source(const SourceParams& p) : images_(p.hdf5_images), max_row_bytes_(p.max_file_bytes) {
    path_ = p.path;
    std::error_code ec;
    require(std::filesystem::is_regular_file(p.path, ec), "hdf5 source ", p.path, ": not a file (or does not exist)");
    std::lock_guard<std::mutex> lock(hdf5_mutex());
    file_ = quiet([&] { return H5Fopen(p.path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT); });
    require(file_ >= 0, "hdf5 source ", p.path, ": cannot open as an HDF5 file (", h5_error_text(), ")");
    try {
      open_images();
      if (!p.hdf5_labels.empty()) open_labels(p.hdf5_labels, p.hdf5_labels != "/labels");
      if (labels_.empty()) labels_.assign(n_, -1);
    } catch (...) {
      close_all();
      throw;
    }
  }
  ~Hdf5Source() override {
    std::lock_guard<std::mutex> lock(hdf5_mutex());
    close_all();
  }

  int64_t size() const override { return n_; }
  std::string id(int64_t i) const override {
    check_row(i);
    return fmt(path_, ":", i);
  }
  int64_t label(int64_t i) const override {
    check_row(i);
    return labels_[i];
  }
  std::vector<std::string> class_names() const override { return classes_; }
  std::string kind() const override { return "hdf5"; }

  RawImage read(int64_t i) const override {
    check_row(i);
    cv::Mat m(static_cast<int>(h_), static_cast<int>(w_), CV_8UC(static_cast<int>(c_)));
    const size_t row_bytes = static_cast<size_t>(h_ * w_ * c_);
    if (fd_ >= 0) {
      size_t got = 0;
      off_t at = static_cast<off_t>(offset_ + i * row_bytes);
      while (got < row_bytes) {
        ssize_t r = ::pread(fd_, m.data + got, row_bytes - got, at + static_cast<off_t>(got));
        if (r < 0 && errno == EINTR) continue;
        require(r > 0, path_, ":", images_, " row ", i, ": read failed: ",
                r < 0 ? errno_text(errno) : std::string("file ends early"));
        got += static_cast<size_t>(r);
      }
    } else {
      std::lock_guard<std::mutex> lock(hdf5_mutex());
      hsize_t start[4] = {static_cast<hsize_t>(i), 0, 0, 0};
      hsize_t count[4] = {1, static_cast<hsize_t>(h_), static_cast<hsize_t>(w_), static_cast<hsize_t>(c_)};
      Closer fspace{H5Dget_space(dset_), H5Sclose};
      hsize_t mdims[1] = {row_bytes};
      Closer mspace{H5Screate_simple(1, mdims, nullptr), H5Sclose};
      herr_t rc = quiet([&] {
        herr_t s = H5Sselect_hyperslab(fspace.id, H5S_SELECT_SET, start, nullptr, count, nullptr);
        return s < 0 ? s : H5Dread(dset_, H5T_NATIVE_UINT8, mspace.id, fspace.id, H5P_DEFAULT, m.data);
      });
      require(rc >= 0, path_, ":", images_, " row ", i, ": H5Dread failed: ", h5_error_text());
    }
    RawImage r;
    r.encoded = false;
    if (c_ == 1) cv::cvtColor(m, r.pixels, cv::COLOR_GRAY2RGB);
    else r.pixels = m;
    return r;
  }

 private:
  void open_images() {
    dset_ = quiet([&] { return H5Dopen2(file_, images_.c_str(), H5P_DEFAULT); });
    require(dset_ >= 0, path_, ": no dataset '", images_, "' (the file's root holds ", root_members(file_),
            "; set extract.hdf5_images)");
    Closer type{H5Dget_type(dset_), H5Tclose};
    require(H5Tget_class(type.id) == H5T_INTEGER && H5Tget_size(type.id) == 1 && H5Tget_sign(type.id) == H5T_SGN_NONE,
            path_, ": ", images_, " is ", h5::type_name(type.id), " (expected uint8 pixels)");
    auto dims = dims_of(dset_);
    bool ok = (dims.size() == 4 && (dims[3] == 1 || dims[3] == 3)) || dims.size() == 3;
    require(ok, path_, ": ", images_, " is ", shape_text(dims),
            " (expected N x H x W x C with C = 1 or 3, or N x H x W)");
    n_ = static_cast<int64_t>(dims[0]);
    h_ = static_cast<int64_t>(dims[1]);
    w_ = static_cast<int64_t>(dims[2]);
    c_ = dims.size() == 4 ? static_cast<int64_t>(dims[3]) : 1;
    require(n_ > 0 && h_ > 0 && w_ > 0, path_, ": ", images_, " is ", shape_text(dims), " (expected no empty dimension)");
    // Checked here, where the size is first known: a small compressed file
    // may declare images of gigabytes, and each row would be read in full
    // before the decoder's max_pixels could refuse it.
    const double row_bytes = double(h_) * double(w_) * double(c_);
    require(row_bytes <= double(max_row_bytes_), path_, ": ", images_, " is ", shape_text(dims), ": one image is ",
            static_cast<int64_t>(row_bytes), " bytes, over extract.max_file_bytes = ", max_row_bytes_);
    // Never written (a writer that stopped early): HDF5 reads the gap as
    // black images, each valid; a filter this HDF5 lacks: refused by name.
    h5::require_readable(dset_, fmt(path_, ": ", images_));
    setup_direct_reads();
  }

  // Contiguous, unfiltered, allocated storage: rows lie at a fixed file offset.
  void setup_direct_reads() {
    Closer dcpl{H5Dget_create_plist(dset_), H5Pclose};
    if (H5Pget_layout(dcpl.id) != H5D_CONTIGUOUS || H5Pget_nfilters(dcpl.id) != 0) return;
    haddr_t off = quiet([&] { return H5Dget_offset(dset_); });
    if (off == HADDR_UNDEF) return;
    int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;  // H5Dread still works
    fd_ = fd;
    // H5Dget_offset counts from the file's first byte, a userblock included
    // (adding it again read every image 512 bytes late, valid and wrong).
    offset_ = static_cast<uint64_t>(off);
  }

  void open_labels(const std::string& name, bool must_exist) {
    htri_t exists = quiet([&] { return H5Lexists(file_, name.c_str(), H5P_DEFAULT); });
    if (exists <= 0) {
      H5Eclear2(H5E_DEFAULT);
      require(!must_exist, path_, ": no labels dataset '", name, "' (the file's root holds ", root_members(file_),
              "; set extract.hdf5_labels, or '' for none)");
      return;
    }
    Closer d{quiet([&] { return H5Dopen2(file_, name.c_str(), H5P_DEFAULT); }), H5Dclose};
    require(d.id >= 0, path_, ": ", name, " is not a dataset (", h5_error_text(), ")");
    Closer type{H5Dget_type(d.id), H5Tclose};
    require(H5Tget_class(type.id) == H5T_INTEGER, path_, ": ", name, " is ", h5::type_name(type.id),
            " (expected integer labels)");
    auto dims = dims_of(d.id);
    bool ok = (dims.size() == 1 || (dims.size() == 2 && dims[1] == 1)) && static_cast<int64_t>(dims[0]) == n_;
    require(ok, path_, ": ", name, " is ", shape_text(dims), " but ", images_, " has ", n_,
            " images (expected ", n_, " labels)");
    h5::require_readable(d.id, fmt(path_, ": ", name));
    read_labels(d.id, type.id, name);
    // One list, as distclust writes it (a JSON list in one string) or one
    // string per class (h5_strings.h reads both); every label needs its name.
    classes_ = H5Strings(path_).name_list(name, "class_names");
    const int64_t top = n_ ? *std::max_element(labels_.begin(), labels_.end()) : -1;
    require(classes_.empty() || top < int64_t(classes_.size()), path_, ": ", name, ":class_names holds ",
            classes_.size(), " names, but ", name, " holds label ", top, " (expected one name per label 0..", top,
            ", or no class_names)");
  }

  /// The labels as int64; uint64 values beyond its range are refused
  /// (HDF5's conversion clamps them to one label, all rows one class).
  void read_labels(hid_t d, hid_t type, const std::string& name) {
    labels_.resize(n_);
    const bool wide_unsigned = H5Tget_sign(type) == H5T_SGN_NONE && H5Tget_size(type) >= 8;
    std::vector<uint64_t> u(wide_unsigned ? n_ : 0);
    herr_t rc = quiet([&] {
      return wide_unsigned ? H5Dread(d, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, u.data())
                           : H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, labels_.data());
    });
    require(rc >= 0, path_, ": cannot read ", name, ": ", h5_error_text());
    for (int64_t i = 0; i < int64_t(u.size()); ++i) {
      require(u[i] <= uint64_t(INT64_MAX), path_, ": ", name, "[", i, "] = ", u[i], " is beyond the int64 range");
      labels_[i] = int64_t(u[i]);
    }
    for (int64_t i = 0; i < n_; ++i)
      require(labels_[i] >= -1, path_, ": ", name, "[", i, "] = ", labels_[i], " (expected >= 0, or -1 for unknown)");
  }

  void close_all() {
    if (fd_ >= 0) ::close(fd_);
    if (dset_ >= 0) H5Dclose(dset_);
    if (file_ >= 0) H5Fclose(file_);
    fd_ = -1;
    dset_ = file_ = -1;
  }

  std::string images_;
  int64_t max_row_bytes_;  // bytes of one image at most (extract.max_file_bytes)
  hid_t file_ = -1, dset_ = -1;
  int fd_ = -1;
  uint64_t offset_ = 0;
  int64_t n_ = 0, h_ = 0, w_ = 0, c_ = 0;
  std::vector<int64_t> labels_;
  std::vector<std::string> classes_;
};

}  // namespace

std::unique_ptr<ImageSource> open_hdf5_source(const SourceParams& p) { return std::make_unique<Hdf5Source>(p); }

}  // namespace distclust::extract
