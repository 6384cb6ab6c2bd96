// OUT.tmp of the extract stage: create or reopen, write batches, commit.
// See extract_output.h for why the file is laid out as it is.
#include "extract/extract_output.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <optional>

#include "comm/collective_watch.h"
#include "core/fault.h"
#include "distclust/error.h"
#include "extract/image_source.h"
#include "io/commit.h"
#include "io/durable.h"
#include "io/full_disk_watch.h"
#include "io/h5_util.h"
#include "io/shared_view.h"

namespace distclust::extract {
namespace {

using h5::Closer;

// HDF5 calls hold the library lock: decode threads may read an HDF5 source
// meanwhile (Debian's HDF5 is not thread-safe).
std::unique_lock<std::mutex> h5lock() { return std::unique_lock<std::mutex>(hdf5_mutex()); }

// File access without HDF5's raw-data chunk cache: writes reach the file in
// program order (see the header), and each rank writes disjoint rows anyway.
hid_t access_list(Communicator& comm) {
  hid_t fapl = h5::file_access(comm);
  DC_H5(H5Pset_cache(fapl, 0, 0, 0, 1.0));
  return fapl;
}

// Allocated at creation, no timestamps (files made by two runs then differ
// only where their data does).
hid_t create_list(bool zero_fill) {
  hid_t dcpl = DC_H5(H5Pcreate(H5P_DATASET_CREATE));
  DC_H5(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY));
  DC_H5(H5Pset_obj_track_times(dcpl, false));
  if (zero_fill) {
    uint8_t zero = 0;
    DC_H5(H5Pset_fill_value(dcpl, H5T_NATIVE_UINT8, &zero));
    DC_H5(H5Pset_fill_time(dcpl, H5D_FILL_TIME_ALLOC));
  } else {
    // N x D of fill would be written at creation (10 GB for ImageNet x 2048):
    // every row is written before commit, so no fill is needed.
    DC_H5(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER));
  }
  return dcpl;
}

hid_t make_dataset(hid_t file, const char* name, hid_t type, int64_t n, int64_t width, bool zero_fill) {
  const int rank = width > 0 ? 2 : 1;
  hsize_t dims[2] = {hsize_t(n), hsize_t(std::max<int64_t>(width, 1))};
  hid_t sp = DC_H5(H5Screate_simple(rank, dims, nullptr));
  Closer cs{sp, H5Sclose};
  // Row chunks of ~1 MiB: big enough for bandwidth, small enough for a rank's block.
  int64_t row_bytes = int64_t(H5Tget_size(type)) * std::max<int64_t>(width, 1);
  hid_t dcpl = create_list(zero_fill);
  Closer cp{dcpl, H5Pclose};
  hsize_t chunk[2] = {hsize_t(std::max<int64_t>(1, std::min<int64_t>(n, (1 << 20) / std::max<int64_t>(1, row_bytes)))),
                      dims[1]};
  DC_H5(H5Pset_chunk(dcpl, rank, chunk));
  hid_t ds = H5Dcreate2(file, name, type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (ds < 0) throw_hdf5_error(fmt("H5Dcreate2(", name, ")").c_str(), __FILE__, __LINE__);
  return ds;
}

hid_t string_type(int64_t len) {
  hid_t t = DC_H5(H5Tcopy(H5T_C_S1));
  DC_H5(H5Tset_size(t, static_cast<size_t>(len)));
  DC_H5(H5Tset_strpad(t, H5T_STR_NULLPAD));
  return t;
}

std::string read_string_attr(hid_t file, const char* name) {
  if (H5Aexists(file, name) <= 0) return "";
  hid_t a = H5Aopen(file, name, H5P_DEFAULT);
  if (a < 0) return "";
  Closer ca{a, H5Aclose};
  hid_t ty = H5Aget_type(a);
  Closer ct{ty, H5Tclose};
  if (H5Tget_class(ty) != H5T_STRING || H5Tis_variable_str(ty) > 0) return "";
  std::string s(H5Tget_size(ty), '\0');
  if (H5Aread(a, ty, s.data()) < 0) return "";
  return s.substr(0, s.find('\0'));
}

// Shape of a dataset, empty when it is absent.
std::vector<int64_t> shape_of(hid_t file, const char* name, std::string* dtype = nullptr, size_t* size = nullptr) {
  if (H5Lexists(file, name, H5P_DEFAULT) <= 0) return {};
  hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
  if (ds < 0) return {};
  Closer cd{ds, H5Dclose};
  hid_t sp = H5Dget_space(ds);
  Closer cs{sp, H5Sclose};
  hid_t ty = H5Dget_type(ds);
  Closer ct{ty, H5Tclose};
  if (dtype) *dtype = h5::type_name(ty);
  if (size) *size = H5Tget_size(ty);
  hsize_t dims[4] = {0, 0, 0, 0};
  int nd = H5Sget_simple_extent_ndims(sp);
  if (nd < 1 || nd > 4) return {};
  H5Sget_simple_extent_dims(sp, dims, nullptr);
  return std::vector<int64_t>(dims, dims + nd);
}

// Silences HDF5's error printing while probing a file that may be damaged.
struct QuietHdf5 {
  H5E_auto2_t fn = nullptr;
  void* data = nullptr;
  QuietHdf5() {
    H5Eget_auto2(H5E_DEFAULT, &fn, &data);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~QuietHdf5() {
    H5Eclear2(H5E_DEFAULT);
    H5Eset_auto2(H5E_DEFAULT, fn, data);
  }
};

}  // namespace

FeatureOutput::FeatureOutput(const std::string& out, Communicator& comm, const OutputLayout& layout, bool try_resume,
                             std::string& note)
    : out_(out), tmp_(out + ".tmp"), comm_(comm), layout_(layout) {
  h5::quiet();  // errors are reported once, as ours, with the HDF5 cause in them
  struct stat st {};
  require(!(stat(out.c_str(), &st) == 0 && S_ISDIR(st.st_mode)), "output ", out,
          " is a directory, expected a file name");
  auto lock = h5lock();
  note.clear();
  // Rank 0 decides whether there is a checkpoint to resume, and every rank
  // must see that same file: a rank that saw it late (NFS) created a fresh
  // one while the others reopened it, and the job hung.
  int have_tmp = comm.rank() == 0 && stat(tmp_.c_str(), &st) == 0;
  comm.broadcast(&have_tmp, sizeof(have_tmp), 0);
  if (try_resume && have_tmp) require_same_file_on_ranks(tmp_, comm, "extract's checkpoint");
  if (try_resume && have_tmp) {
    std::string why;
    resumed_ = reopen(layout, why);
    if (!resumed_) note = fmt("ignoring ", tmp_, " (", why, "): starting afresh");
  }
  if (!resumed_) create(layout);
}

FeatureOutput::~FeatureOutput() {
  // Unwinding after an error on this rank: closing would be collective and
  // wait for ranks that will never come (the job is being aborted), so the
  // file is left to the OS. One rank alone can close.
  if (std::uncaught_exceptions() > 0 && comm_.size() > 1) return;
  auto lock = h5lock();
  close();
}

std::string FeatureOutput::close() {
  // A dataset's close is where its cached chunks are written: a failure
  // there (a full disk) is the file's failure, as a failed flush is.
  CollectiveScope scope("HDF5 file close");  // the datasets' closes too: collective
  bool dataset_failed = false;
  for (int64_t* id : {&features_, &labels_, &valid_, &ids_, &done_}) {
    if (*id >= 0 && H5Dclose(*id) < 0) dataset_failed = true;
    *id = -1;
  }
  if (id_type_ >= 0) H5Tclose(id_type_);
  id_type_ = -1;
  if (file_ < 0) return "";
  const hid_t f = file_;
  file_ = -1;
  // Every rank flushes and closes alike (collective on a parallel file;
  // watched: a rank stuck there, or a full disk that deadlocks it, ends the
  // job rather than holding it to the time limit).
  const std::string dataset_error = dataset_failed ? hdf5_error_text() : std::string();
  std::optional<FullDiskWatch> watch;
  if (comm_.size() > 1) watch.emplace(tmp_, comm_, 1 << 20, 10, /*keep_file=*/true);  // the checkpoint
  const std::string why = flush_and_close_hdf5(f, tmp_);
  if (!why.empty() || !dataset_failed) return why;
  note_hdf5_close_failed();
  return fmt("writing ", tmp_, " failed when its datasets were closed (", dataset_error, ")", disk_space_note(tmp_));
}

void FeatureOutput::create(const OutputLayout& l) {
  require_shared_output(tmp_, comm_);  // removes a stale one; every rank sees the one file
  CollectiveScope scope("HDF5 file create");
  hid_t fapl = access_list(comm_);
  Closer cf{fapl, H5Pclose};
  file_ = H5Fcreate(tmp_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  if (file_ < 0) {
    const std::string desc = fmt("H5Fcreate(", tmp_, ")");
    if (comm_.rank() == 0) std::remove(tmp_.c_str());  // (the token, or what the create left)
    throw_hdf5_write_error(desc.c_str(), tmp_, __FILE__, __LINE__);
  }
  hid_t ft = l.half ? h5::half_type() : H5T_NATIVE_FLOAT;
  hid_t st = string_type(l.id_len);
  Closer cst{st, H5Tclose};
  for (auto [name, type, width, zero] :
       {std::make_tuple("/features", ft, l.d, false), std::make_tuple("/labels", H5T_NATIVE_INT64, int64_t(0), false),
        std::make_tuple("/valid", H5T_NATIVE_UINT8, int64_t(0), false),
        std::make_tuple("/ids", st, int64_t(0), false), std::make_tuple("/done", H5T_NATIVE_UINT8, int64_t(0), true)})
    H5Dclose(make_dataset(file_, name, type, l.n, width, zero));
  set_attr("config_hash", l.hash);
  // The layout is final: put it on disk now, so a job killed later leaves a
  // file that opens (raw-data writes do not touch the metadata).
  flush_metadata_locked();
  open_datasets();
}

void FeatureOutput::flush_metadata() {
  auto lock = h5lock();
  flush_metadata_locked();
}

void FeatureOutput::flush_metadata_locked() {
  // Collective, and on a full disk it can deadlock as the close can
  // (io/full_disk_watch.h): a job with 12-20 KiB free hung here.
  CollectiveScope scope("HDF5 file flush");
  std::optional<FullDiskWatch> watch;
  if (comm_.size() > 1) watch.emplace(tmp_, comm_);
  if (H5Fflush(file_, H5F_SCOPE_GLOBAL) < 0) {
    note_hdf5_close_failed();  // left open: HDF5's clean-up at exit would close it collectively
    throw_hdf5_write_error(fmt("H5Fflush(", tmp_, ")").c_str(), tmp_, __FILE__, __LINE__);
  }
}

bool FeatureOutput::reopen(const OutputLayout& l, std::string& why) {
  int ok = 1;
  {
    CollectiveScope scope("HDF5 file open");
    QuietHdf5 quiet;
    hid_t fapl = access_list(comm_);
    Closer cf{fapl, H5Pclose};
    if (H5Fis_hdf5(tmp_.c_str()) <= 0) {
      ok = 0;
      why = "not a readable HDF5 file";
    } else {
      file_ = H5Fopen(tmp_.c_str(), H5F_ACC_RDWR, fapl);
      if (file_ < 0) ok = 0, why = "cannot be opened";
    }
    if (ok) {
      std::string hash = read_string_attr(file_, "config_hash"), fdtype;
      size_t id_size = 0;
      auto fshape = shape_of(file_, "/features", &fdtype);
      auto ishape = shape_of(file_, "/ids", nullptr, &id_size);
      auto dshape = shape_of(file_, "/done");
      // No /done, and invalid_rows written: a job stopped in its commit,
      // after every row was synced (see commit()); every row is done.
      complete_ = dshape.empty() && H5Lexists(file_, "/done", H5P_DEFAULT) == 0 &&
                  H5Aexists(file_, "invalid_rows") > 0;
      if (complete_) dshape = {l.n};
      if (hash != l.hash) {
        ok = 0, why = fmt("made with other settings: config hash ", hash.empty() ? "none" : hash, ", now ", l.hash);
      } else if (fshape.size() != 2 || fshape[0] != l.n || dshape != std::vector<int64_t>{l.n} ||
                 ishape != std::vector<int64_t>{l.n} || int64_t(id_size) != l.id_len ||
                 fdtype != (l.half ? "float16" : "float32")) {
        ok = 0, why = "its datasets do not have the expected layout";
      } else if (fshape[1] != l.d) {
        // Same settings, other D: the model is not what the hash says.
        throw Error(fmt(tmp_, ": /features is ", fshape[0], " x ", fshape[1], " but the backbone now gives ", l.n,
                        " x ", l.d, " with the same settings; remove ", tmp_, " to start afresh"));
      }
    }
  }
  // Every rank must take the same branch.
  int all_ok = comm_.sum(ok) == comm_.size();
  if (!all_ok) {
    if (ok) why = "not readable on every rank";
    if (file_ >= 0) H5Fclose(file_);
    file_ = -1;
    return false;
  }
  open_datasets();
  return true;
}

void FeatureOutput::open_datasets() {
  CollectiveScope scope("HDF5 dataset open");
  hid_t dapl = DC_H5(H5Pcreate(H5P_DATASET_ACCESS));
  Closer ca{dapl, H5Pclose};
  DC_H5(H5Pset_chunk_cache(dapl, 0, 0, 1.0));
  features_ = DC_H5(H5Dopen2(file_, "/features", dapl));
  labels_ = DC_H5(H5Dopen2(file_, "/labels", dapl));
  valid_ = DC_H5(H5Dopen2(file_, "/valid", dapl));
  ids_ = DC_H5(H5Dopen2(file_, "/ids", dapl));
  done_ = complete_ ? -1 : DC_H5(H5Dopen2(file_, "/done", dapl));
  id_type_ = string_type(layout_.id_len);
}

void FeatureOutput::write(int64_t ds, RowRange rows, int64_t mem_type, const void* data, int64_t width) {
  hid_t fs = DC_H5(H5Dget_space(ds));
  Closer cf{fs, H5Sclose};
  const int nd = H5Sget_simple_extent_ndims(fs);
  hsize_t start[2] = {hsize_t(rows.begin), 0}, count[2] = {hsize_t(rows.size()), hsize_t(std::max<int64_t>(width, 1))};
  hid_t ms = DC_H5(H5Screate_simple(nd, count, nullptr));
  Closer cm{ms, H5Sclose};
  DC_H5(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, nullptr, count, nullptr));
  // Independent I/O (the default transfer list): no rank waits for another.
  if (H5Dwrite(ds, mem_type, ms, fs, H5P_DEFAULT, data) < 0)
    throw_hdf5_write_error(fmt("H5Dwrite(", tmp_, ", rows ", rows.begin, "..", rows.end, ")").c_str(), tmp_, __FILE__, __LINE__);
}

std::vector<uint8_t> FeatureOutput::read_u8(int64_t ds, RowRange rows) {
  std::vector<uint8_t> out(static_cast<size_t>(rows.size()));
  hid_t fs = DC_H5(H5Dget_space(ds));
  Closer cf{fs, H5Sclose};
  hsize_t start = hsize_t(rows.begin), count = std::max<hsize_t>(1, hsize_t(rows.size()));
  hid_t ms = DC_H5(H5Screate_simple(1, &count, nullptr));
  Closer cm{ms, H5Sclose};
  if (rows.size() > 0) {
    count = hsize_t(rows.size());
    DC_H5(H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, nullptr, &count, nullptr));
  } else {
    DC_H5(H5Sselect_none(fs));
    DC_H5(H5Sselect_none(ms));
  }
  hid_t dxpl = h5::transfer(comm_);
  Closer cx{dxpl, H5Pclose};
  CollectiveScope scope("HDF5 collective read");
  uint8_t dummy = 0;
  if (H5Dread(ds, H5T_NATIVE_UINT8, ms, fs, dxpl, out.empty() ? &dummy : out.data()) < 0)
    throw_hdf5_error(fmt("H5Dread(", tmp_, ")").c_str(), __FILE__, __LINE__);
  return out;
}

std::vector<uint8_t> FeatureOutput::done(RowRange rows) {
  if (complete_) return std::vector<uint8_t>(size_t(rows.size()), 1);
  auto lock = h5lock();
  return read_u8(done_, rows);
}

std::vector<uint8_t> FeatureOutput::valid(RowRange rows) {
  auto lock = h5lock();
  return read_u8(valid_, rows);
}

void FeatureOutput::write_batch(RowRange rows, const float* x, const uint8_t* valid, const int64_t* labels,
                                const char* ids) {
  const size_t n = static_cast<size_t>(rows.size());
  if (n == 0) return;
  const void* fx = x;
  hid_t fxt = H5T_NATIVE_FLOAT;
  std::vector<uint16_t> half;
  if (layout_.half) {
    // Converted here: HDF5 1.10's own float->half conversion loses the
    // rounding carry (see h5_util.h).
    half.resize(n * layout_.d);
    for (size_t i = 0; i < half.size(); ++i) half[i] = h5::float_to_half(x[i]);
    fx = half.data();
  }
  auto lock = h5lock();
  // Under the lock: its first call builds the type with HDF5 calls, and
  // decode threads may be reading an HDF5 source (this HDF5 is not thread-safe).
  if (layout_.half) fxt = h5::half_type();
  write(features_, rows, fxt, fx, layout_.d);
  write(valid_, rows, H5T_NATIVE_UINT8, valid, 0);
  write(labels_, rows, H5T_NATIVE_INT64, labels, 0);
  write(ids_, rows, id_type_, ids, 0);
  unsynced_.push_back(rows);
  if (sync_pace_.due_here()) sync_and_mark_done(lock);
}

void FeatureOutput::sync_done() {
  auto lock = h5lock();
  sync_and_mark_done(lock);
}

void FeatureOutput::sync_and_mark_done(std::unique_lock<std::mutex>& lock) {
  sync_pace_.save([&] {
    lock.unlock();  // only this thread writes OUT.tmp; the lock guards HDF5 calls, not the file
    const int e = sync_fn_ ? sync_fn_(tmp_, sync_ctx_) : sync_file(tmp_);
    lock.lock();
    if (e != 0)
      throw Error(fmt("syncing ", tmp_, " failed: ", std::strerror(e), e == ENOSPC ? disk_space_note(tmp_) : ""));
    // Last: a row is done only once everything it holds is on the disk.
    for (const RowRange& r : done_ < 0 ? std::vector<RowRange>() : unsynced_) {
      const std::vector<uint8_t> ones(static_cast<size_t>(r.size()), 1);
      write(done_, r, H5T_NATIVE_UINT8, ones.data(), 0);
    }
    unsynced_.clear();
  });
}

void FeatureOutput::write_small(const std::string& name, const std::vector<int64_t>& shape, const double* data) {
  auto lock = h5lock();
  CollectiveScope scope("HDF5 dataset create");
  const std::string path = name[0] == '/' ? name : "/" + name;
  if (H5Lexists(file_, path.c_str(), H5P_DEFAULT) > 0) DC_H5(H5Ldelete(file_, path.c_str(), H5P_DEFAULT));
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  hid_t sp = DC_H5(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  Closer cs{sp, H5Sclose};
  hid_t dcpl = DC_H5(H5Pcreate(H5P_DATASET_CREATE));
  Closer cp{dcpl, H5Pclose};
  DC_H5(H5Pset_obj_track_times(dcpl, false));
  h5::WrittenDataset dsw{H5Dcreate2(file_, path.c_str(), H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT)};
  const hid_t ds = dsw.id;
  if (ds < 0) throw_hdf5_write_error(fmt("H5Dcreate2(", tmp_, ":", path, ")").c_str(), tmp_, __FILE__, __LINE__);
  hid_t fs = DC_H5(H5Dget_space(ds));
  Closer cf{fs, H5Sclose};
  hid_t ms = DC_H5(H5Scopy(fs));
  Closer cm{ms, H5Sclose};
  if (comm_.rank() != 0) {
    DC_H5(H5Sselect_none(fs));
    DC_H5(H5Sselect_none(ms));
  }
  hid_t dxpl = h5::transfer(comm_);
  Closer cx{dxpl, H5Pclose};
  if (H5Dwrite(ds, H5T_NATIVE_DOUBLE, ms, fs, dxpl, data) < 0)
    throw_hdf5_write_error(fmt("H5Dwrite(", tmp_, ":", path, ")").c_str(), tmp_, __FILE__, __LINE__);
  dsw.close(tmp_, path, __FILE__, __LINE__);
}

void FeatureOutput::attr(const std::string& name, const std::string& value) {
  auto lock = h5lock();
  set_attr(name, value);
}

void FeatureOutput::attr(const std::string& name, int64_t value) {
  auto lock = h5lock();
  set_attr(name, H5T_NATIVE_INT64, &value);
}

void FeatureOutput::attr(const std::string& name, double value) {
  auto lock = h5lock();
  set_attr(name, H5T_NATIVE_DOUBLE, &value);
}

void FeatureOutput::set_attr(const std::string& name, const std::string& value) {
  hid_t ty = string_type(std::max<int64_t>(1, int64_t(value.size())));
  Closer ct{ty, H5Tclose};
  const std::string v = value.empty() ? std::string(1, '\0') : value;
  set_attr(name, ty, v.data());
}

void FeatureOutput::set_attr(const std::string& name, int64_t type, const void* value) {
  CollectiveScope scope("HDF5 attribute write");
  hid_t sp = DC_H5(H5Screate(H5S_SCALAR));
  Closer cs{sp, H5Sclose};
  if (H5Aexists(file_, name.c_str()) > 0) DC_H5(H5Adelete(file_, name.c_str()));
  hid_t a = DC_H5(H5Acreate2(file_, name.c_str(), type, sp, H5P_DEFAULT, H5P_DEFAULT));
  Closer ca{a, H5Aclose};
  DC_H5(H5Awrite(a, type, value));
}

void FeatureOutput::commit(int64_t invalid_rows) {
  // Every rank's rows on the disk before the file says it is complete: a
  // stop between here and the rename (a signal, a full disk at the close)
  // then leaves a NAME.tmp that resumes with nothing to compute, where
  // without /done it was taken for a damaged file and extracted again.
  sync_done();
  comm_.barrier();
  std::string why;
  {
    auto lock = h5lock();
    CollectiveScope scope("HDF5 file close");  // the attribute, the delete and the close: collective
    set_attr("invalid_rows", H5T_NATIVE_INT64, &invalid_rows);  // with no /done: "complete" (reopen)
    if (done_ >= 0) {
      DC_H5(H5Dclose(done_));
      done_ = -1;
      DC_H5(H5Ldelete(file_, "/done", H5P_DEFAULT));
    }
    why = close();
  }
  fault_signal_point("DISTCLUST_FAULT_SIGNAL_AT", "extract-closed");  // the tests' stop before the rename
  commit_output(tmp_, out_, why, comm_, /*note=*/true, /*keep_tmp=*/true);
}

}  // namespace distclust::extract
