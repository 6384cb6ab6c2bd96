// Internal to src/extract: the features file while extract writes it
// (OUT.tmp), with the per-row /done flags that make it resumable.
//
// Why not H5Writer: it always truncates, and resuming must reopen OUT.tmp.
// Every dataset is allocated when created (no fill written except /done's
// zeros) and the HDF5 chunk cache is off for this file, so each write goes to
// the file in program order. A killed process loses nothing written, but the
// page cache reaches the disk in its own order: after a power loss or a node
// crash, /done's page could be there without the rows it marks (zeros,
// resumed as valid rows). So a batch's rows are marked done only after the
// file is synced, and syncs are paced (every 2 s, or less often where a sync
// is slow: at most ~5% of the time): the marks trail the rows by up to a
// few seconds' batches, which a resume computes again. The
// metadata is flushed after the layout is created and again after the PCA
// is written (flush_metadata: a resume reads the PCA back rather than fit
// it again; a resumed file without a usable one gets the refit's, flushed
// alike), and not changed until commit().
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "distclust/comm.h"
#include "io/checkpoint_pace.h"

namespace distclust::extract {

/// Shape and identity of a features file.
struct OutputLayout {
  int64_t n = 0;         ///< rows
  int64_t d = 0;         ///< feature dimension
  bool half = false;     ///< /features as float16
  int64_t id_len = 1;    ///< bytes per /ids entry (fixed-length strings, NUL-padded)
  std::string hash;      ///< config hash: a different one means OUT.tmp cannot be resumed
};

class FeatureOutput {
 public:
  /// Collective. With try_resume, reopens OUT.tmp when it exists, opens on
  /// every rank and has the layout's hash, N, half and id length (a D
  /// mismatch with the same hash is an Error naming the file and both
  /// shapes); otherwise creates a fresh OUT.tmp. `note` receives what was
  /// done ("resuming from X.tmp: 123 of 456 rows done", "ignoring X.tmp: ...").
  FeatureOutput(const std::string& out, Communicator& comm, const OutputLayout& layout, bool try_resume,
                std::string& note);
  ~FeatureOutput();
  FeatureOutput(const FeatureOutput&) = delete;
  FeatureOutput& operator=(const FeatureOutput&) = delete;

  /// True when OUT.tmp was reopened.
  bool resumed() const { return resumed_; }
  /// The done flags of rows (all 0 for a fresh file). Collective.
  std::vector<uint8_t> done(RowRange rows);
  /// /valid of rows. Collective.
  std::vector<uint8_t> valid(RowRange rows);

  /// Writes one batch of this rank's rows; they, and the batches before
  /// them, are marked done when the file has been synced since they were
  /// written (paced: see above). Independent I/O: ranks call it at their own
  /// pace, any number of times. A failed sync is an Error naming the file.
  /// x: [rows x d] float32; valid, labels: [rows]; ids: [rows x id_len] bytes.
  void write_batch(RowRange rows, const float* x, const uint8_t* valid, const int64_t* labels, const char* ids);

  /// Syncs OUT.tmp now and marks every row written so far done.
  void sync_done();

  /// What syncs OUT.tmp: fsync by path (io/durable.h's sync_file) unless a
  /// test replaces it; returns 0 or an errno.
  using SyncFn = int (*)(const std::string& path, void* ctx);
  void set_sync_for_test(SyncFn fn, void* ctx) { sync_fn_ = fn, sync_ctx_ = ctx; }

  /// Creates and writes a small float64 dataset from rank 0's data. Collective.
  void write_small(const std::string& name, const std::vector<int64_t>& shape, const double* data);
  /// Puts the file's metadata on disk (datasets made by write_small since
  /// the layout): a job killed later leaves them readable. Collective.
  void flush_metadata();
  /// Root-group attributes (values from rank 0's call; every rank calls). Collective.
  void attr(const std::string& name, const std::string& value);
  void attr(const std::string& name, int64_t value);
  void attr(const std::string& name, double value);

  /// Syncs every rank's rows, writes the invalid_rows attribute, removes
  /// /done, closes, renames OUT.tmp -> OUT. Collective. A stop after the
  /// sync leaves an OUT.tmp whose rows reopen as all done.
  void commit(int64_t invalid_rows);

  const std::string& tmp_path() const { return tmp_; }

 private:
  void create(const OutputLayout& l);
  // Scalar file attributes; the caller holds the HDF5 lock.
  void set_attr(const std::string& name, const std::string& value);
  void set_attr(const std::string& name, int64_t type, const void* value);  ///< type: an hid_t
  bool reopen(const OutputLayout& l, std::string& why);
  void open_datasets();
  std::string close();  // "" or why the file did not reach the disk
  void write(int64_t ds, RowRange rows, int64_t mem_type, const void* data, int64_t width);
  std::vector<uint8_t> read_u8(int64_t ds, RowRange rows);
  /// Caller holds the HDF5 lock, which the fsync is made without (decode
  /// threads reading an HDF5 source would wait for it).
  void flush_metadata_locked();  // caller holds the HDF5 lock
  void sync_and_mark_done(std::unique_lock<std::mutex>& lock);

  std::vector<RowRange> unsynced_;  ///< written, not yet synced nor marked done
  /// Syncs of OUT.tmp: due 2 s after the last, or 20x its duration when
  /// longer (a shared file system's tens of ms and more), so a crash costs
  /// at most a few seconds of work again. (A sync whenever 20x its duration
  /// had passed, every batch on a local SSD, made extract 9% slower here:
  /// the journal's work is more than the fsync's own time.)
  CheckpointPace sync_pace_{/*ratio=*/20, /*min_seconds=*/2};
  SyncFn sync_fn_ = nullptr;
  void* sync_ctx_ = nullptr;

  std::string out_, tmp_;
  Communicator& comm_;
  OutputLayout layout_;
  bool resumed_ = false;
  bool complete_ = false;  ///< reopened after its commit began: no /done, every row done
  int64_t file_ = -1;
  int64_t features_ = -1, labels_ = -1, valid_ = -1, ids_ = -1, done_ = -1;
  int64_t id_type_ = -1;
};

}  // namespace distclust::extract
