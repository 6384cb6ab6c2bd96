// A collective HDF5 flush and close on a full disk can deadlock inside
// parallel HDF5 (1.10): after a failed write, one rank waits in a barrier
// of the metadata cache while the others wait in the truncate's broadcast
// (seen with 3 ranks: kmeans, knn and scan never ended). No error reaches
// distclust, so nothing would end the job. While a watch is alive, a thread
// looks at the output's file system once a second; when it stays full for
// the grace time, it logs the cause and ends the job.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "distclust/comm.h"

namespace distclust {

class FullDiskWatch {
 public:
  /// Watches the file system of `path` (the file being closed). full_below:
  /// free bytes taken as full; grace_s: how long it must stay full.
  /// keep_file: the file is a checkpoint (extract's NAME.tmp), left in
  /// place for the resume; else it is removed when the watch ends the job.
  FullDiskWatch(const std::string& path, Communicator& comm, double full_below = 1 << 20, double grace_s = 10,
                bool keep_file = false);
  ~FullDiskWatch();
  FullDiskWatch(const FullDiskWatch&) = delete;
  FullDiskWatch& operator=(const FullDiskWatch&) = delete;

 private:
  void watch(double full_below, double grace_s);
  std::string path_;
  Communicator& comm_;
  bool keep_file_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace distclust
