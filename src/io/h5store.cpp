#include "io/h5store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>

#include "comm/collective_watch.h"
#include "comm/root.h"
#include "core/fault.h"
#include "core/stop_note.h"
#include "io/abort_cleanup.h"
#include "io/commit.h"
#include "io/full_disk_watch.h"
#include "io/h5_util.h"
#include "io/shared_view.h"

namespace distclust {
namespace {

std::string shape_text(const std::vector<int64_t>& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) out += (i ? " x " : "") + std::to_string(s[i]);
  return out.empty() ? "scalar" : out;
}

std::string members(hid_t file) {
  std::string out;
  auto cb = [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
    auto* s = static_cast<std::string*>(data);
    *s += (s->empty() ? "/" : ", /") + std::string(name);
    return 0;
  };
  H5Literate(file, H5_INDEX_NAME, H5_ITER_NATIVE, nullptr, cb, &out);
  return out.empty() ? "nothing" : out;
}

std::string ds_path(const std::string& name) { return name.empty() || name[0] != '/' ? "/" + name : name; }

}  // namespace

std::string DatasetInfo::describe() const { return shape_text(shape) + " " + dtype; }

void check_input_file(const std::string& path, const std::string& what) {
  struct stat st{};
  require(!path.empty(), what, ": no file given");
  // A link loop or an unreadable folder is not "does not exist": say why.
  if (stat(path.c_str(), &st) != 0)
    throw Error(errno == ENOENT ? fmt(what, " ", path, " does not exist")
                                : fmt(what, " ", path, " cannot be opened: ", std::strerror(errno)));
  require(!S_ISDIR(st.st_mode), what, " ", path, " is a directory, expected an HDF5 file");
  require(st.st_size > 0, what, " ", path, " is empty (0 bytes)");
  // A file this user may not read: HDF5 says only "not an HDF5 file" (and
  // printed its error stack), so try it here and give the system's reason.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(fmt(what, " ", path, " cannot be opened: ", std::strerror(errno)));
  ::close(fd);
  h5::quiet();
}

bool file_exists(const std::string& path) {
  struct stat st{};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// ---------------------------------------------------------------- reader

namespace {

/// Throws the HDF5 error of a failed H5Fopen(path), saying what a lock or an
/// open-for-write mark means.
[[noreturn]] void throw_open_error(const std::string& path) {
  try {
    throw_hdf5_error(("H5Fopen(" + path + ")").c_str(), __FILE__, __LINE__);
  } catch (const Error& e) {
    const std::string why = e.what();
    // HDF5's own phrases (a truncated file's message holds "sblock", which a
    // bare "lock" matched).
    if (why.find("unable to lock file") == std::string::npos &&
        why.find("already open for write") == std::string::npos)
      throw;
    throw Error(fmt(path, " cannot be opened for reading: another process may be writing it (it holds the HDF5 file "
                    "lock, or the file is marked open for writing; `h5clear -s` clears the mark a crashed writer "
                    "left): ", why));
  }
}

/// Opens path read-only once with HDF5's own checks, which MPI-IO skips: the
/// file lock a writer holds and the superblock's open-for-write flag. A
/// 1-rank run refused a file another process was writing; 3 ranks clustered
/// its unwritten rows as zeros. Filesystems without locks pass (best effort).
void require_not_being_written(const std::string& path) {
  hid_t fapl = DC_H5(H5Pcreate(H5P_FILE_ACCESS));
  h5::Closer cp{fapl, H5Pclose};
#if H5_VERSION_GE(1, 10, 7)
  DC_H5(H5Pset_file_locking(fapl, true, /*ignore_when_disabled=*/true));
#endif
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl);
  if (f < 0) throw_open_error(path);
  H5Fclose(f);
}

}  // namespace

H5Reader::H5Reader(const std::string& path, Communicator& comm) : path_(path) {
  h5::quiet();
  // First, so that a file another node just wrote is waited for where this
  // node's file system shows it late, not failed as missing.
  require_same_file_on_ranks(path, comm, "input");
  check_input_file(path, "HDF5 file");
  require(H5Fis_hdf5(path.c_str()) > 0, path, " is not an HDF5 file");
  if (comm.size() > 1) run_on_root(comm, "opening " + path, [&] { require_not_being_written(path); });
  hid_t fapl = h5::file_access(comm);
  h5::Closer c{fapl, H5Pclose};
  {
    CollectiveScope scope("HDF5 file open");  // collective with several ranks
    file_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl);
  }
  if (file_ < 0) throw_open_error(path);
  collective_ = comm.size() > 1;
}

H5Reader::~H5Reader() {
  if (file_ < 0) return;
  // An error unwinding this rank alone (a bad value in its rows of the
  // file) must not wait in the collective close for ranks that are in
  // another collective: that hung scan, embed and export --duplicates on
  // one bad /indices entry. The handle is left to the OS; the error ends
  // the job (cli/main.cpp), as for an unfinished H5Writer.
  if (collective_ && std::uncaught_exceptions() > 0) return;
  CollectiveScope scope("HDF5 file close");
  H5Fclose(file_);
}

bool H5Reader::has(const std::string& dataset) const {
  return h5::link_exists(file_, path_, ds_path(dataset));
}

DatasetInfo H5Reader::info(const std::string& dataset) const {
  std::string p = ds_path(dataset);
  require(has(p), path_, ": no dataset ", p, " (file holds ", members(file_), ")");
  hid_t ds = h5::open_dataset(file_, path_, p);
  h5::Closer cd{ds, H5Dclose};
  // A virtual dataset: HDF5 reads none in parallel (2 ranks failed where 1
  // ran), and a missing source file reads as fill values (zeros clustered
  // as data, exit 0). Refused on every rank count.
  hid_t dcpl = DC_H5(H5Dget_create_plist(ds));
  h5::Closer cp{dcpl, H5Pclose};
  require(H5Pget_layout(dcpl) != H5D_VIRTUAL, path_, ": ", p,
          " is a virtual dataset (HDF5 VDS), which distclust does not read (HDF5 cannot read one in parallel, and a "
          "missing source file would read as zeros): store it as a regular dataset, e.g. with h5py: "
          "out['", p.substr(1), "'] = f['", p.substr(1), "'][:]");
  hid_t sp = DC_H5(H5Dget_space(ds));
  h5::Closer cs{sp, H5Sclose};
  hid_t ty = DC_H5(H5Dget_type(ds));
  h5::Closer ct{ty, H5Tclose};
  int nd = H5Sget_simple_extent_ndims(sp);
  std::vector<hsize_t> dims(nd > 0 ? nd : 0);
  if (nd > 0) H5Sget_simple_extent_dims(sp, dims.data(), nullptr);
  if (stored_checked_.insert(p).second) h5::require_readable(ds, path_ + ": " + p);
  DatasetInfo info;
  for (auto d : dims) info.shape.push_back(static_cast<int64_t>(d));
  info.dtype = h5::type_name(ty);
  return info;
}

std::vector<int64_t> H5Reader::shape(const std::string& dataset) const {
  const std::string p = ds_path(dataset);
  require(has(p), path_, ": no dataset ", p, " (file holds ", members(file_), ")");
  hid_t ds = h5::open_dataset(file_, path_, p);
  h5::Closer cd{ds, H5Dclose};
  hid_t sp = DC_H5(H5Dget_space(ds));
  h5::Closer cs{sp, H5Sclose};
  const int nd = H5Sget_simple_extent_ndims(sp);
  std::vector<hsize_t> dims(nd > 0 ? nd : 0);
  if (nd > 0) H5Sget_simple_extent_dims(sp, dims.data(), nullptr);
  return std::vector<int64_t>(dims.begin(), dims.end());
}

void H5Reader::read_raw(const std::string& dataset, RowRange rows, DType t, void* out) const {
  DatasetInfo di = info(dataset);
  std::string p = ds_path(dataset);
  require(di.shape.size() == 1 || di.shape.size() == 2, path_, ": ", p, " is ", di.describe(),
          ", expected 1-D or 2-D");
  require(di.dtype.rfind("float", 0) == 0 || di.dtype.rfind("int", 0) == 0 || di.dtype.rfind("uint", 0) == 0,
          path_, ": ", p, " has type ", di.dtype, ", expected numbers");
  require(rows.begin >= 0 && rows.end <= di.shape[0] && rows.begin <= rows.end, path_, ": rows [",
          rows.begin, ", ", rows.end, ") outside ", p, " (", di.describe(), ")");
  hid_t ds = DC_H5(H5Dopen2(file_, p.c_str(), H5P_DEFAULT));
  h5::Closer cd{ds, H5Dclose};
  hid_t fs = DC_H5(H5Dget_space(ds));
  h5::Closer cf{fs, H5Sclose};
  hsize_t start[2] = {hsize_t(rows.begin), 0};
  hsize_t count[2] = {hsize_t(rows.size()), di.shape.size() == 2 ? hsize_t(di.shape[1]) : 1};
  int nd = static_cast<int>(di.shape.size());
  if (rows.size() == 0) {
    DC_H5(H5Sselect_none(fs));
  } else {
    DC_H5(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, nullptr, count, nullptr));
  }
  hid_t ms = DC_H5(H5Screate_simple(nd, count, nullptr));
  h5::Closer cm{ms, H5Sclose};
  if (rows.size() == 0) DC_H5(H5Sselect_none(ms));
  if (di.dtype == "float16" && t == DType::f32) {
    // HDF5 1.10's soft half->float conversion halves values (seen on
    // 1.10.8): read the raw bits and convert here instead.
    std::vector<uint16_t> raw(static_cast<size_t>(count[0] * count[1]));
    if (H5Dread(ds, h5::half_type(), ms, fs, H5P_DEFAULT, raw.data()) < 0)
      throw_hdf5_error(("H5Dread(" + path_ + ":" + p + ")").c_str(), __FILE__, __LINE__);
    float* f = static_cast<float*>(out);
    for (size_t i = 0; i < raw.size(); ++i) f[i] = h5::half_to_float(raw[i]);
    return;
  }
  if (di.dtype == "uint64" && t == DType::i64) {
    // HDF5 converts a uint64 past INT64_MAX to INT64_MAX without a word, so
    // labels 2^63 + c became one class: read the bits and refuse those.
    if (H5Dread(ds, H5T_NATIVE_UINT64, ms, fs, H5P_DEFAULT, out) < 0)
      throw_hdf5_error(("H5Dread(" + path_ + ":" + p + ")").c_str(), __FILE__, __LINE__);
    const auto* u = static_cast<const uint64_t*>(out);
    const size_t n = size_t(count[0] * count[1]);
    for (size_t i = 0; i < n; ++i)
      require(u[i] <= uint64_t(INT64_MAX), path_, ": ", p, " row ", rows.begin + int64_t(i / count[1]), " holds ", u[i],
              ", beyond the int64 range distclust reads (at most 9223372036854775807)");
    return;
  }
  if (H5Dread(ds, h5::mem_type(t), ms, fs, H5P_DEFAULT, out) < 0)
    throw_hdf5_error(("H5Dread(" + path_ + ":" + p + ")").c_str(), __FILE__, __LINE__);
}

template <class T>
std::vector<T> H5Reader::read_rows(const std::string& dataset, RowRange rows) const {
  DatasetInfo di = info(dataset);
  int64_t width = di.shape.size() == 2 ? di.shape[1] : 1;
  std::vector<T> out(static_cast<size_t>(std::max<int64_t>(0, rows.size()) * width));
  read_raw(dataset, rows, dtype_of<T>(), out.data());
  return out;
}

template <class T>
std::vector<T> H5Reader::read_all(const std::string& dataset) const {
  DatasetInfo di = info(dataset);
  require(!di.shape.empty(), path_, ": ", dataset, " is a scalar");
  if (di.shape.size() <= 2) return read_rows<T>(dataset, {0, di.shape[0]});
  // 3-D and more (gmm.h5's full covariances): the whole dataset, row-major.
  require(di.dtype.rfind("float", 0) == 0 || di.dtype.rfind("int", 0) == 0 || di.dtype.rfind("uint", 0) == 0,
          path_, ": ", dataset, " has type ", di.dtype, ", expected numbers");
  require(di.dtype != "float16", path_, ": ", dataset, " is ", di.describe(), ": float16 is read only in 1-D or 2-D");
  int64_t count = 1;
  for (int64_t e : di.shape) {
    require(e >= 0 && (e == 0 || count <= (int64_t(1) << 40) / e), path_, ": ", dataset, " is ", di.describe(),
            ": too large to read whole");
    count *= e;
  }
  std::vector<T> out(static_cast<size_t>(count));
  const std::string p = ds_path(dataset);
  hid_t ds = DC_H5(H5Dopen2(file_, p.c_str(), H5P_DEFAULT));
  h5::Closer cd{ds, H5Dclose};
  if (count > 0 && H5Dread(ds, h5::mem_type(dtype_of<T>()), H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0)
    throw_hdf5_error(("H5Dread(" + path_ + ":" + p + ")").c_str(), __FILE__, __LINE__);
  return out;
}

bool H5Reader::has_attr(const std::string& name) const { return h5::attr_exists(file_, path_, "/", name); }

std::string H5Reader::attr_string(const std::string& name) const {
  require(has_attr(name), path_, ": no attribute ", name);
  hid_t a = DC_H5(H5Aopen(file_, name.c_str(), H5P_DEFAULT));
  h5::Closer ca{a, H5Aclose};
  hid_t ty = DC_H5(H5Aget_type(a));
  h5::Closer ct{ty, H5Tclose};
  require(H5Tget_class(ty) == H5T_STRING, path_, ": attribute ", name, " is not a string");
  if (H5Tis_variable_str(ty) > 0) {
    char* s = nullptr;
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, H5T_VARIABLE);
    // The file's character set: h5py writes str attributes as UTF-8, and
    // HDF5 has no conversion from UTF-8 to the default ASCII.
    H5Tset_cset(mt, H5Tget_cset(ty));
    DC_H5(H5Aread(a, mt, &s));
    std::string out = s ? s : "";
    H5free_memory(s);
    H5Tclose(mt);
    return out;
  }
  size_t n = H5Tget_size(ty);
  std::string out(n, '\0');
  DC_H5(H5Aread(a, ty, out.data()));
  out.resize(out.find('\0') == std::string::npos ? n : out.find('\0'));
  return out;
}

double H5Reader::attr_double(const std::string& name) const {
  require(has_attr(name), path_, ": no attribute ", name);
  hid_t a = DC_H5(H5Aopen(file_, name.c_str(), H5P_DEFAULT));
  h5::Closer ca{a, H5Aclose};
  hid_t ty = DC_H5(H5Aget_type(a));
  h5::Closer ct{ty, H5Tclose};
  const H5T_class_t cls = H5Tget_class(ty);
  require(cls == H5T_INTEGER || cls == H5T_FLOAT, path_, ": attribute ", name, " is not a number");
  double v = 0;
  DC_H5(H5Aread(a, H5T_NATIVE_DOUBLE, &v));
  return v;
}

// ---------------------------------------------------------------- writer

H5Writer::H5Writer(const std::string& path, Communicator& comm, bool checkpoint)
    : path_(path), tmp_(path + ".tmp"), comm_(comm), checkpoint_(checkpoint) {
  if (!checkpoint) stop_note_clear();  // a stop now leaves this output uncommitted
  h5::quiet();
  struct stat st{};
  require(!(stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)), "output ", path,
          " is a directory, expected a file name");
  // A stop signal, a heartbeat's end or a full disk's abort ends the rank
  // without this destructor: NAME.tmp (a whole kNN graph's size, on the
  // scratch disk a rerun needs) stayed until the next run. Every rank
  // registers it (the one that survives longest removes it), before the
  // file exists: a stop inside the create left a 0-byte NAME.ckpt.tmp.
  set_cleanup(true);
  try {
    // A stale NAME.tmp is removed first, and every rank must see the one file.
    require_shared_output(tmp_, comm);
    fault_signal_point("DISTCLUST_FAULT_SIGNAL_AT", checkpoint_ ? "checkpoint-creating" : "output-creating");
    hid_t fapl = h5::file_access(comm);
    h5::Closer c{fapl, H5Pclose};
    {
      CollectiveScope scope("HDF5 file create");
      file_ = H5Fcreate(tmp_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    }
    if (file_ < 0) {
      // A full disk can fail the create after the file appeared (no
      // destructor runs for a throwing constructor): OUT.ckpt.tmp stayed.
      const std::string desc = fmt("H5Fcreate(", tmp_, ")");
      if (comm.rank() == 0) std::remove(tmp_.c_str());
      throw_hdf5_write_error(desc.c_str(), tmp_, __FILE__, __LINE__);
    }
  } catch (...) {
    set_cleanup(false);  // no destructor runs for a throwing constructor
    throw;
  }
}

void H5Writer::set_cleanup(bool on) {
  // Once each way: the registry holds a path as many times as it was
  // registered, and a second removal would take another holder's.
  if (on == cleanup_registered_) return;
  remove_at_abnormal_end(tmp_, on);
  cleanup_registered_ = on;
}

H5Writer::~H5Writer() {
  set_cleanup(false);
  if (file_ < 0) return;
  // Not committed: an error is unwinding this rank. With other ranks, closing
  // is collective and would wait for ranks that are elsewhere (in another
  // collective write, or already gone): the file is abandoned to the OS and
  // the error ends the job; NAME.tmp is unlinked all the same (the other
  // ranks' open handles do not stop that). Alone, close it first.
  if (comm_.size() == 1 && H5Fclose(file_) < 0) note_hdf5_close_failed();
  std::remove(tmp_.c_str());
}

std::string H5Writer::close() {
  if (file_ < 0) return "";
  const hid_t f = file_;
  file_ = -1;
  if (comm_.size() == 1) return flush_and_close_hdf5(f, tmp_);
  CollectiveScope scope("HDF5 file close");
  FullDiskWatch watch(tmp_, comm_);  // the collective close can deadlock on a full disk
  return flush_and_close_hdf5(f, tmp_);
}

void H5Writer::create_raw(const std::string& dataset, const std::vector<int64_t>& shape, DType t, bool half) {
  CollectiveScope scope("HDF5 dataset create");
  std::string p = ds_path(dataset);
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  hid_t sp = DC_H5(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  h5::Closer cs{sp, H5Sclose};
  hid_t dcpl = DC_H5(H5Pcreate(H5P_DATASET_CREATE));
  h5::Closer cp{dcpl, H5Pclose};
  if (!dims.empty() && dims[0] > 0) {
    // Row chunks of ~1 MiB: big enough for bandwidth, small enough for
    // partial reads of a rank's block.
    std::vector<hsize_t> chunk = dims;
    size_t row_bytes = dtype_size(t);  // a row: every dimension after the first
    for (size_t j = 1; j < dims.size(); ++j) {
      row_bytes *= std::max<hsize_t>(1, dims[j]);
      if (dims[j] == 0) chunk[j] = 1;
    }
    chunk[0] = std::max<hsize_t>(1, std::min<hsize_t>(dims[0], std::max<size_t>(1, (1 << 20) / row_bytes)));
    DC_H5(H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data()));
  }
  hid_t ft = half ? h5::half_type() : h5::mem_type(t);
  hid_t ds = H5Dcreate2(file_, p.c_str(), ft, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (ds < 0) throw_hdf5_write_error(("H5Dcreate2(" + tmp_ + ":" + p + ")").c_str(), tmp_, __FILE__, __LINE__);
  h5::WrittenDataset{ds}.close(tmp_, p, __FILE__, __LINE__);
}

void H5Writer::write_raw(const std::string& dataset, RowRange rows, DType t, const void* data, bool all) {
  CollectiveScope scope("HDF5 collective write");
  std::string p = ds_path(dataset);
  h5::WrittenDataset ds{DC_H5(H5Dopen2(file_, p.c_str(), H5P_DEFAULT))};
  write_open(ds.id, p, rows, t, data, all);
  ds.close(tmp_, p, __FILE__, __LINE__);
}

void H5Writer::write_open(int64_t ds, const std::string& p, RowRange rows, DType t, const void* data, bool all) {
  hid_t fs = DC_H5(H5Dget_space(ds));
  h5::Closer cf{fs, H5Sclose};
  // Rows are the first dimension; a row is everything after it (a [k x d x d] dataset has k rows of d x d).
  int nd = H5Sget_simple_extent_ndims(fs);
  require(nd >= 1 && nd <= 8, tmp_, ": ", p, " has ", nd, " dimensions (1 to 8 are written)");
  hsize_t dims[8] = {0, 1, 1, 1, 1, 1, 1, 1};
  H5Sget_simple_extent_dims(fs, dims, nullptr);
  for (int j = 0; j < nd; ++j)
    if (dims[j] == 0) return;  // an empty dataset: nothing to write
  bool mine = all ? comm_.rank() == 0 : rows.size() > 0;
  if (all) rows = {0, static_cast<int64_t>(dims[0])};
  require(rows.begin >= 0 && rows.end <= int64_t(dims[0]), tmp_, ": rows [", rows.begin, ", ", rows.end,
          ") outside ", p, " of ", dims[0], " rows");
  hsize_t start[8] = {hsize_t(rows.begin), 0, 0, 0, 0, 0, 0, 0};
  hsize_t count[8], mdims[8];
  hsize_t row_values = 1;
  count[0] = hsize_t(rows.size());
  mdims[0] = std::max<hsize_t>(1, count[0]);
  for (int j = 1; j < nd; ++j) row_values *= (count[j] = mdims[j] = dims[j]);
  hid_t ms = DC_H5(H5Screate_simple(nd, mdims, nullptr));
  h5::Closer cm{ms, H5Sclose};
  if (mine && count[0] > 0) {
    DC_H5(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, nullptr, count, nullptr));
  } else {
    DC_H5(H5Sselect_none(fs));
    DC_H5(H5Sselect_none(ms));
  }
  hid_t dxpl = h5::transfer(comm_);
  h5::Closer cx{dxpl, H5Pclose};
  hid_t ftype = DC_H5(H5Dget_type(ds));
  h5::Closer ct{ftype, H5Tclose};
  std::vector<uint16_t> half;
  if (t == DType::f32 && h5::type_name(ftype) == "float16") {
    // Convert here: HDF5 1.10 loses the rounding carry (0.06249 -> 0.03125).
    const float* f = static_cast<const float*>(data);
    half.resize(mine ? static_cast<size_t>(count[0] * row_values) : 0);
    for (size_t i = 0; i < half.size(); ++i) half[i] = h5::float_to_half(f[i]);
    if (H5Dwrite(ds, h5::half_type(), ms, fs, dxpl, half.empty() ? nullptr : half.data()) < 0)
      throw_hdf5_write_error(("H5Dwrite(" + tmp_ + ":" + p + ")").c_str(), tmp_, __FILE__, __LINE__);
    return;
  }
  if (H5Dwrite(ds, h5::mem_type(t), ms, fs, dxpl, data) < 0)
    throw_hdf5_write_error(("H5Dwrite(" + tmp_ + ":" + p + ")").c_str(), tmp_, __FILE__, __LINE__);
}

template <class T>
void H5Writer::create(const std::string& dataset, std::vector<int64_t> shape, bool half) {
  create_raw(dataset, shape, dtype_of<T>(), half);
}

template <class T>
void H5Writer::write_rows(const std::string& dataset, RowRange rows, const T* data) {
  write_raw(dataset, rows, dtype_of<T>(), data, false);
}

template <class T>
void H5Writer::write_all(const std::string& dataset, std::vector<int64_t> shape, const T* data) {
  create_raw(dataset, shape, dtype_of<T>(), false);
  write_raw(dataset, {}, dtype_of<T>(), data, true);
}

void H5Writer::write_strings(const std::string& dataset, int64_t n_total, RowRange rows,
                             const std::vector<std::string>& mine) {
  CollectiveScope scope("HDF5 collective write");
  require(int64_t(mine.size()) == rows.size(), tmp_, ": ", mine.size(), " strings for rows [", rows.begin, ", ",
          rows.end, ")");
  int64_t len = 1;
  for (const auto& s : mine) len = std::max<int64_t>(len, int64_t(s.size()));
  len = comm_.max(len);
  std::vector<char> buf(size_t(rows.size() * len), '\0');
  for (size_t i = 0; i < mine.size(); ++i) std::copy(mine[i].begin(), mine[i].end(), buf.begin() + i * len);
  const std::string p = ds_path(dataset);
  hid_t ty = DC_H5(H5Tcopy(H5T_C_S1));
  h5::Closer ct{ty, H5Tclose};
  DC_H5(H5Tset_size(ty, size_t(len)));
  DC_H5(H5Tset_strpad(ty, H5T_STR_NULLPAD));
  hsize_t dims[1] = {hsize_t(n_total)};
  hid_t sp = DC_H5(H5Screate_simple(1, dims, nullptr));
  h5::Closer cs{sp, H5Sclose};
  hid_t dcpl = DC_H5(H5Pcreate(H5P_DATASET_CREATE));
  h5::Closer cp{dcpl, H5Pclose};
  if (n_total > 0) {
    hsize_t chunk[1] = {std::max<hsize_t>(1, std::min<hsize_t>(hsize_t(n_total), (1 << 20) / hsize_t(len)))};
    DC_H5(H5Pset_chunk(dcpl, 1, chunk));
  }
  h5::WrittenDataset dsw{H5Dcreate2(file_, p.c_str(), ty, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT)};
  const hid_t ds = dsw.id;
  if (ds < 0) throw_hdf5_write_error(("H5Dcreate2(" + tmp_ + ":" + p + ")").c_str(), tmp_, __FILE__, __LINE__);
  if (n_total == 0) return dsw.close(tmp_, p, __FILE__, __LINE__);
  hsize_t start[1] = {hsize_t(rows.begin)}, count[1] = {hsize_t(rows.size())}, mdims[1] = {std::max<hsize_t>(1, count[0])};
  hid_t fs = DC_H5(H5Dget_space(ds));
  h5::Closer cf{fs, H5Sclose};
  hid_t ms = DC_H5(H5Screate_simple(1, mdims, nullptr));
  h5::Closer cm{ms, H5Sclose};
  if (count[0] > 0) {
    DC_H5(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, nullptr, count, nullptr));
  } else {
    DC_H5(H5Sselect_none(fs));
    DC_H5(H5Sselect_none(ms));
  }
  hid_t dxpl = h5::transfer(comm_);
  h5::Closer cx{dxpl, H5Pclose};
  if (H5Dwrite(ds, ty, ms, fs, dxpl, buf.empty() ? nullptr : buf.data()) < 0)
    throw_hdf5_write_error(("H5Dwrite(" + tmp_ + ":" + p + ")").c_str(), tmp_, __FILE__, __LINE__);
  dsw.close(tmp_, p, __FILE__, __LINE__);
}

void H5Writer::attr(const std::string& name, const std::string& value) {
  hid_t ty = DC_H5(H5Tcopy(H5T_C_S1));
  h5::Closer ct{ty, H5Tclose};
  DC_H5(H5Tset_size(ty, std::max<size_t>(1, value.size())));
  DC_H5(H5Tset_strpad(ty, H5T_STR_NULLPAD));
  hid_t sp = DC_H5(H5Screate(H5S_SCALAR));
  h5::Closer cs{sp, H5Sclose};
  if (H5Aexists(file_, name.c_str()) > 0) H5Adelete(file_, name.c_str());
  hid_t a = DC_H5(H5Acreate2(file_, name.c_str(), ty, sp, H5P_DEFAULT, H5P_DEFAULT));
  h5::Closer ca{a, H5Aclose};
  std::string v = value.empty() ? std::string(1, '\0') : value;
  DC_H5(H5Awrite(a, ty, v.data()));
}

void H5Writer::attr(const std::string& name, double value) {
  hid_t sp = DC_H5(H5Screate(H5S_SCALAR));
  h5::Closer cs{sp, H5Sclose};
  if (H5Aexists(file_, name.c_str()) > 0) H5Adelete(file_, name.c_str());
  hid_t a = DC_H5(H5Acreate2(file_, name.c_str(), H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, H5P_DEFAULT));
  h5::Closer ca{a, H5Aclose};
  DC_H5(H5Awrite(a, H5T_NATIVE_DOUBLE, &value));
}

void H5Writer::attr(const std::string& name, int64_t value) {
  hid_t sp = DC_H5(H5Screate(H5S_SCALAR));
  h5::Closer cs{sp, H5Sclose};
  if (H5Aexists(file_, name.c_str()) > 0) H5Adelete(file_, name.c_str());
  hid_t a = DC_H5(H5Acreate2(file_, name.c_str(), H5T_NATIVE_INT64, sp, H5P_DEFAULT, H5P_DEFAULT));
  h5::Closer ca{a, H5Aclose};
  DC_H5(H5Awrite(a, H5T_NATIVE_INT64, &value));
}

void H5Writer::commit() {
  fault_signal_point("DISTCLUST_FAULT_SIGNAL_AT", checkpoint_ ? "checkpoint-written" : "output-written");
  commit_output(tmp_, path_, close(), comm_, !checkpoint_);
  set_cleanup(false);  // renamed: the name may be the next writer's
  committed_ = true;
}

#define DC_INSTANTIATE(T)                                                                     \
  template std::vector<T> H5Reader::read_rows<T>(const std::string&, RowRange) const;         \
  template std::vector<T> H5Reader::read_all<T>(const std::string&) const;                     \
  template void H5Writer::create<T>(const std::string&, std::vector<int64_t>, bool);           \
  template void H5Writer::write_rows<T>(const std::string&, RowRange, const T*);               \
  template void H5Writer::write_all<T>(const std::string&, std::vector<int64_t>, const T*);
DC_INSTANTIATE(float)
DC_INSTANTIATE(double)
DC_INSTANTIATE(int32_t)
DC_INSTANTIATE(int64_t)
DC_INSTANTIATE(uint8_t)

}  // namespace distclust
