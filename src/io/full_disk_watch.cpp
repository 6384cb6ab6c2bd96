#include "io/full_disk_watch.h"

#include <chrono>
#include <cstdio>

#include "distclust/error.h"
#include "distclust/log.h"
#include "io/abort_cleanup.h"

namespace distclust {

FullDiskWatch::FullDiskWatch(const std::string& path, Communicator& comm, double full_below, double grace_s,
                             bool keep_file)
    : path_(path), comm_(comm), keep_file_(keep_file),
      thread_([this, full_below, grace_s] { watch(full_below, grace_s); }) {}

FullDiskWatch::~FullDiskWatch() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void FullDiskWatch::watch(double full_below, double grace_s) {
  double full_for = 0;
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, std::chrono::seconds(1), [this] { return done_; })) {
    const double free = free_bytes_at(path_);
    full_for = free >= 0 && free < full_below ? full_for + 1 : 0;
    if (full_for < grace_s) continue;
    // The collective close has not returned for grace_s seconds of a full
    // disk: the output is lost either way (a checkpoint is kept for the
    // resume, which checks it); end the job with the cause.
    if (!keep_file_) std::remove(path_.c_str());
    remove_registered_files();  // the abort skips the destructors (OUT.lock, a staged CSV)
    comm_.abort(fmt("writing ", path_, " did not finish: its file system has ", int64_t(free / 1024),
                    " KiB free: No space left on device (the collective HDF5 flush or close was stuck; ", path_,
                    keep_file_ ? " is kept: free space and the same command resumes from it)" : " was removed)"));
  }
}

}  // namespace distclust
