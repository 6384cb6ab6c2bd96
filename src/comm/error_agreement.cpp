#include "comm/error_agreement.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>
#include <vector>

#include "distclust/log.h"

namespace distclust {
namespace {
MPI_Comm g_control = MPI_COMM_NULL;
}  // namespace

void init_error_agreement() {
  if (g_control == MPI_COMM_NULL) MPI_Comm_dup(MPI_COMM_WORLD, &g_control);
}

bool all_ranks_failed(const std::string& text, double seconds, bool echo) {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (g_control == MPI_COMM_NULL || finalized) return false;
  MPI_Request req;
  if (MPI_Ibarrier(g_control, &req) != MPI_SUCCESS) return false;
  const auto t0 = std::chrono::steady_clock::now();
  for (int done = 0;;) {
    MPI_Test(&req, &done, MPI_STATUS_IGNORE);
    if (done) break;
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > seconds) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // Every rank is here: gather the messages on rank 0.
  int rank = 0, size = 1;
  MPI_Comm_rank(g_control, &rank);
  MPI_Comm_size(g_control, &size);
  const std::string msg = (echo ? "e" : "c") + text;  // first byte: echo or cause
  const int len = int(msg.size());
  std::vector<int> lens(static_cast<size_t>(size)), offs(static_cast<size_t>(size));
  MPI_Gather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, 0, g_control);
  int total = 0;
  for (int r = 0; r < size; ++r) offs[size_t(r)] = total, total += lens[size_t(r)];
  std::vector<char> all(static_cast<size_t>(total) + 1);
  MPI_Gatherv(msg.data(), len, MPI_CHAR, all.data(), lens.data(), offs.data(), MPI_CHAR, 0, g_control);
  if (rank == 0) {
    std::map<std::string, std::vector<int>> by_msg;  // message -> ranks
    for (int r = 0; r < size; ++r) by_msg[std::string(&all[size_t(offs[size_t(r)])], size_t(lens[size_t(r)]))].push_back(r);
    // Echoes go when a rank said the cause; the rest in rank order (the
    // map's order put "run failed on rank 0" before rank 0's cause).
    bool any_cause = false;
    for (const auto& entry : by_msg) any_cause |= entry.first[0] == 'c';
    std::vector<std::pair<std::string, std::vector<int>>> said;
    for (auto& [m, ranks] : by_msg)
      if (!any_cause || m[0] == 'c') said.emplace_back(m.substr(1), ranks);
    std::sort(said.begin(), said.end(), [](const auto& a, const auto& b) { return a.second[0] < b.second[0]; });
    for (const auto& [m, ranks] : said) {
      std::string who;
      if (said.size() > 1) {  // say which ranks gave which message
        who = ranks.size() == 1 ? "rank " : "ranks ";
        for (size_t i = 0; i < ranks.size() && i < 8; ++i) who += fmt(i ? "," : "", ranks[i]);
        who += ranks.size() > 8 ? fmt(",... (", ranks.size(), "): ") : std::string(": ");
      }
      log::write(log::Level::error, false, who + m);
    }
  }
  // The others leave only once rank 0 has printed: a rank that exits first
  // (with _Exit when an HDF5 file is open, nothing to wait for) makes mpirun
  // kill the rest, and rank 0 was at times killed before its line, so the
  // job ended with no cause at all (4 of 10 runs, mpi_failure_said_before_exit).
  MPI_Barrier(g_control);
  return true;
}

}  // namespace distclust
