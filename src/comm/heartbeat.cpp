#include "comm/heartbeat.h"

#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "comm/collective_watch.h"
#include "comm/liveness.h"
#include "comm/wait_watch.h"
#include "comm/watched_wait.h"
#include "distclust/error.h"
#include "distclust/log.h"
#include "io/abort_cleanup.h"

namespace distclust {
namespace {

constexpr int kTag = 0x4842;  // "HB"

/// Who a rank is, for the message that names a silent one.
struct Peer {
  char host[64] = {0};
  int64_t pid = 0;
};

struct Heartbeat {
  MPI_Comm comm = MPI_COMM_NULL;
  int rank = 0, size = 1;
  double timeout_s = 60;             ///< silence that ends the job; 0 = no beats
  double collective_timeout_s = 1800;  ///< one collective call's wait that ends it; 0 = none
  double tick_s = 0.5, gap_s = 2;
  std::vector<Peer> peers;
  std::thread thread;
  std::mutex mu;
  std::condition_variable cv;
  bool stop_asked = false;  ///< under mu

  double now() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }

  /// Ends the job from this thread, as a failure on one rank does: this
  /// rank's registered output files removed, then MPI_Abort.
  [[noreturn]] static void end_job() {
    remove_registered_files();
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    std::_Exit(1);
  }

  [[noreturn]] void declare_gone(int left, double silent) {
    const Peer& p = peers[size_t(left)];
    log::error("rank ", left, " (pid ", p.pid, " on ", p.host, ") has sent no heartbeat for ", int(silent),
               " s: it is stopped (SIGSTOP, a debugger) or its node does not schedule it (hung file system, "
               "swapping), and every rank would wait for it until the job's time limit; ending the job "
               "(DISTCLUST_HEARTBEAT_TIMEOUT=", timeout_s, " s; 0 = no heartbeat)");
    end_job();
  }

  /// This rank's main thread has waited `waited` seconds in one collective
  /// call: a rank it waits for is alive (its beats come) but never gets
  /// there. Ends the job from this thread, so no buffer of the call is freed
  /// while MPI may still write into it. `behind`: the ring's pick of the
  /// rank that has called no collective for longest (rank -1: none
  /// trusted), named when that is at least half the time this rank waited:
  /// it is the one all wait for, or far behind.
  [[noreturn]] void declare_stuck(const CollectiveState& cs, double waited, const Standing& behind) {
    std::string who = "the other ranks: one of them is stuck (a read or write that never returns, a deadlock) or "
                      "far behind";
    if (behind.rank >= 0 && behind.rank != rank && behind.busy_s >= waited / 2) {
      const Peer& p = peers[size_t(behind.rank)];
      who = fmt("rank ", behind.rank, " (pid ", p.pid, " on ", p.host, "), which has called no collective for ",
                int(behind.busy_s), " s: it is stuck in its own work (a read or write that never returns, a "
                "deadlock) or far behind");
    }
    log::error("waited ", int(waited), " s in ", cs.what, " for ", who,
               "; every rank would wait until the job's time limit: ending the job (", collective_timeout_variable(),
               "=", collective_timeout_s, " s; 0 = no limit)");
    end_job();
  }

  /// The thread: beats to the right, listens to the left and watches the
  /// main thread's collective calls, until every rank has asked to stop (a
  /// non-blocking barrier it posts once asked).
  void run() {
    const int right = (rank + 1) % size, left = (rank + size - 1) % size;
    const bool beats = timeout_s > 0;
    // A beat carries the sender's pick of the rank outside the collectives
    // longest (comm/standing.h). `out` outlives this thread: the last beat
    // is freed unfinished below, and MPI may read its buffer later (a
    // rendezvous transport); one heartbeat per process.
    static Standing out;
    Standing in, from_left;
    MPI_Request recv = MPI_REQUEST_NULL, send = MPI_REQUEST_NULL, all_stopping = MPI_REQUEST_NULL;
    if (beats) MPI_Irecv(&in, int(sizeof in), MPI_BYTE, left, kTag, comm, &recv);
    Liveness live(timeout_s, gap_s, now());
    WaitWatch watch(collective_timeout_s, gap_s, tick_s, rank, size, now());
    double last_beat = -1e300;
    for (;;) {
      int flag = 0;
      if (send != MPI_REQUEST_NULL) MPI_Test(&send, &flag, MPI_STATUS_IGNORE);
      // One beat a tick (also while polling the stop barrier more often),
      // one in flight at most: a silent right neighbour is not flooded.
      if (beats && send == MPI_REQUEST_NULL && now() - last_beat >= tick_s) {
        out = watch.pick(collective_state(), from_left, now());
        MPI_Isend(&out, int(sizeof out), MPI_BYTE, right, kTag, comm, &send);
        last_beat = now();
      }
      while (beats) {
        flag = 0;
        MPI_Test(&recv, &flag, MPI_STATUS_IGNORE);
        if (!flag) break;
        live.heard(now());
        from_left = in;
        MPI_Irecv(&in, int(sizeof in), MPI_BYTE, left, kTag, comm, &recv);
      }
      if (all_stopping != MPI_REQUEST_NULL) {
        flag = 0;
        MPI_Test(&all_stopping, &flag, MPI_STATUS_IGNORE);
        if (flag) break;
      }
      if (beats && live.gone(now())) declare_gone(left, live.silent_for(now()));
      const CollectiveState cs = collective_state();
      Standing behind;
      if (watch.stuck(cs, from_left, live.silent_for(now()), beats, now(), behind))
        declare_stuck(cs, watch.waited(now()), behind);
      std::unique_lock<std::mutex> lock(mu);
      if (all_stopping != MPI_REQUEST_NULL) {  // the process is about to end: poll the barrier closely
        lock.unlock();
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        continue;
      }
      cv.wait_for(lock, std::chrono::duration<double>(tick_s), [&] { return stop_asked; });
      if (stop_asked) MPI_Ibarrier(comm, &all_stopping);
    }
    if (recv != MPI_REQUEST_NULL) {
      MPI_Cancel(&recv);
      MPI_Wait(&recv, MPI_STATUS_IGNORE);
    }
    // A last beat the right neighbour no longer receives completes (or is
    // dropped) inside MPI; nothing here waits for it.
    if (send != MPI_REQUEST_NULL) MPI_Request_free(&send);
  }
};

Heartbeat* g_beat = nullptr;

}  // namespace

double heartbeat_timeout_seconds() { return seconds_from_env("DISTCLUST_HEARTBEAT_TIMEOUT", 60, 2, "no heartbeat"); }

void start_heartbeat() {
  if (g_beat) return;
  int size = 1, provided = MPI_THREAD_SINGLE;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Query_thread(&provided);
  if (size <= 1) return;
  // One decision on every rank, so that the collective calls below match
  // (mpirun passes one environment, but `-x` or a wrapper may not).
  double timeout = 0, collective = 0;
  std::string bad;
  try {
    timeout = heartbeat_timeout_seconds();
    collective = collective_timeout_seconds();
  } catch (const Error& e) {
    bad = e.what();
  }
  // The lowest rank with a bad value (as size - rank), then max and -min of each.
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  double agree[5] = {bad.empty() ? 0.0 : double(size - rank), timeout, -timeout, collective, -collective};
  DC_MPI(MPI_Allreduce(MPI_IN_PLACE, agree, 5, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD));
  // Refused on every rank; said once: by the lowest rank with a bad value
  // (only it knows the value), else by rank 0. The others' Error is empty.
  if (agree[0] > 0) throw Error(size - int(agree[0]) == rank ? bad : std::string());
  const auto refuse_if = [&](bool differs, const std::string& msg) {
    if (differs) throw Error(rank == 0 ? msg : std::string());
  };
  refuse_if(agree[1] != -agree[2], fmt("DISTCLUST_HEARTBEAT_TIMEOUT differs between ranks (", -agree[2], " to ",
                                       agree[1], " s): set it once for the whole job"));
  refuse_if(agree[3] != -agree[4], fmt(collective_timeout_variable(), " differs between ranks (", -agree[4], " to ",
                                       agree[3], " s): set it once for the whole job"));
  if (timeout == 0 && collective == 0) return;
  if (provided < MPI_THREAD_MULTIPLE) {
    log::debug("heartbeat and collective watch: off (MPI gives thread level ", provided,
               ", not MPI_THREAD_MULTIPLE)");
    return;
  }
  auto* b = new Heartbeat;
  b->timeout_s = timeout;
  b->collective_timeout_s = collective;
  // A tick of at most a quarter of the shorter limit; a gap in the thread's
  // own ticks of over 4 ticks (at least 1 s) means the process was stopped.
  const double shorter = timeout > 0 && collective > 0 ? std::min(timeout, collective) : timeout + collective;
  b->tick_s = std::min(0.5, shorter / 4);
  b->gap_s = std::min(shorter / 2, std::max(4 * b->tick_s, 1.0));
  DC_MPI(MPI_Comm_dup(MPI_COMM_WORLD, &b->comm));
  MPI_Comm_rank(b->comm, &b->rank);
  b->size = size;
  Peer me;
  gethostname(me.host, sizeof(me.host) - 1);
  me.pid = int64_t(getpid());
  b->peers.resize(size_t(size));
  DC_MPI(MPI_Allgather(&me, int(sizeof(Peer)), MPI_BYTE, b->peers.data(), int(sizeof(Peer)), MPI_BYTE, b->comm));
  b->thread = std::thread([b] { b->run(); });
  g_beat = b;
}

void stop_heartbeat() {
  if (!g_beat) return;
  {
    std::lock_guard<std::mutex> lock(g_beat->mu);
    g_beat->stop_asked = true;
  }
  g_beat->cv.notify_all();
  g_beat->thread.join();
  // The duplicate is left to MPI_Finalize: freeing it is collective in
  // effect, and a beat may still be on its way.
  delete g_beat;
  g_beat = nullptr;
}

}  // namespace distclust
