#include "kmeans/kmeans_state.h"

#include <sys/stat.h>

#include "comm/local_comm.h"
#include "io/h5store.h"
#include "distclust/log.h"

namespace distclust {

void save_kmeans_state(const std::string& path, const KMeansState& s, Communicator& comm) {
  if (comm.rank() == 0) {
    LocalCommunicator self;
    H5Writer w(path, self);
    w.write_vector("/centroids", s.centroids);
    w.write_vector("/history", s.history);
    w.write_vector("/best_centroids", s.best_centroids);
    w.write_vector("/best_history", s.best_history);
    w.attr("params_hash", s.params_hash);
    w.attr("restart", int64_t(s.restart));
    w.attr("next_iter", int64_t(s.next_iter));
    w.attr("finished", int64_t(s.finished));
    w.attr("best_restart", int64_t(s.best_restart));
    w.attr("best_inertia", s.best_inertia);
    w.attr("empty_splits", s.empty_splits);
    w.commit();
  }
  comm.barrier();
}

bool load_kmeans_state(const std::string& path, const std::string& hash, int64_t k, int64_t d,
                       KMeansState& s, Communicator& comm) {
  int64_t ok = 0;
  KMeansState t;
  if (comm.rank() == 0) {
    struct stat st{};
    if (stat(path.c_str(), &st) == 0) {
      LocalCommunicator self;
      H5Reader r(path, self);
      t.params_hash = r.attr_string("params_hash");
      if (t.params_hash != hash) {
        log::warn("kmeans: ignoring checkpoint ", path, " made with other parameters (hash ", t.params_hash,
                  " != ", hash, ")");
      } else {
        t.centroids = r.read_all<float>("/centroids");
        t.history = r.read_all<double>("/history");
        t.best_centroids = r.read_all<float>("/best_centroids");
        t.best_history = r.read_all<double>("/best_history");
        t.restart = static_cast<int>(r.attr_double("restart"));
        t.next_iter = static_cast<int>(r.attr_double("next_iter"));
        t.finished = r.attr_double("finished") != 0;
        t.best_restart = static_cast<int>(r.attr_double("best_restart"));
        t.best_inertia = r.attr_double("best_inertia");
        t.empty_splits = static_cast<int64_t>(r.attr_double("empty_splits"));
        bool shapes = (t.centroids.empty() || int64_t(t.centroids.size()) == k * d) &&
                      (t.best_centroids.empty() || int64_t(t.best_centroids.size()) == k * d);
        require(shapes, path, ": checkpoint centroids do not match k=", k, " d=", d);
        ok = 1;
      }
    }
  }
  comm.broadcast(&ok, sizeof(ok), 0);
  if (!ok) return false;
  int64_t ints[5] = {t.restart, t.next_iter, t.finished, t.best_restart, t.empty_splits};
  comm.broadcast(ints, sizeof(ints), 0);
  comm.broadcast(&t.best_inertia, sizeof(double), 0);
  comm.broadcast(t.centroids, 0);
  comm.broadcast(t.history, 0);
  comm.broadcast(t.best_centroids, 0);
  comm.broadcast(t.best_history, 0);
  t.restart = int(ints[0]);
  t.next_iter = int(ints[1]);
  t.finished = ints[2] != 0;
  t.best_restart = int(ints[3]);
  t.empty_splits = ints[4];
  t.params_hash = hash;
  s = std::move(t);
  return true;
}

}  // namespace distclust
