#include "io/shared_view.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <thread>
#include <vector>

#include "comm/root.h"
#include "distclust/error.h"
#include "distclust/log.h"
#include "io/text_file.h"

namespace fs = std::filesystem;

namespace distclust {
namespace {

/// What one rank sees at a path. kind: 0 absent, 1 a regular file, 2 one
/// it cannot open, 3 something else (a FIFO, a folder: not opened, an open
/// of a FIFO waits for a writer). sample: a hash of 16 blocks of 4 KiB
/// spread over the file, first and last included. The time is shown, not
/// compared: byte-identical copies staged onto each node's disk are fine.
struct View {
  int64_t kind = 0, size = 0, mtime = 0, err = 0;
  uint64_t sample = 0;
};

/// FNV-1a over 16 blocks of 4 KiB of fd (size bytes), evenly spaced.
uint64_t hash_sample(int fd, int64_t size) {
  uint64_t h = 1469598103934665603ull;
  std::vector<unsigned char> buf(4096);
  constexpr int kBlocks = 16;
  const int64_t last = std::max<int64_t>(0, size - int64_t(buf.size()));
  for (int b = 0; b < kBlocks; ++b) {
    const int64_t at = last * b / (kBlocks - 1);
    const ssize_t got = ::pread(fd, buf.data(), buf.size(), at);
    for (ssize_t i = 0; i < got; ++i) h = (h ^ buf[size_t(i)]) * 1099511628211ull;
  }
  return h;
}

View view_of(const std::string& path) {
  View v;
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) {
    v.kind = errno == ENOENT ? 0 : 2;
    v.err = errno;
    return v;
  }
  if (!S_ISREG(st.st_mode)) return v.kind = 3, v;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    v.kind = 2;
    v.err = errno;
    return v;
  }
  if (::fstat(fd, &st) == 0) {
    v.kind = 1, v.size = st.st_size, v.mtime = st.st_mtim.tv_sec;
    v.sample = hash_sample(fd, v.size);
  }
  ::close(fd);
  return v;
}

/// The first `n` bytes of path ("" when it cannot be read).
std::string head_of(const std::string& path, size_t n) {
  std::string s(n, '\0');
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  const ssize_t got = ::read(fd, s.data(), n);
  ::close(fd);
  s.resize(got > 0 ? size_t(got) : 0);
  return s;
}

std::string describe(const View& v) {
  if (v.kind == 0) return "nothing there";
  if (v.kind == 2) return fmt("a file it cannot open (", std::strerror(int(v.err)), ")");
  if (v.kind == 3) return "something that is not a regular file";
  char when[32] = "?";
  const time_t t = time_t(v.mtime);
  struct tm tm{};
  if (gmtime_r(&t, &tm)) std::strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
  char sample[24];
  std::snprintf(sample, sizeof(sample), "%08llx", static_cast<unsigned long long>(v.sample & 0xffffffffull));
  return fmt(v.size, " bytes modified ", when, " (16 sampled blocks hash to ", sample, ")");
}

constexpr const char* kShared =
    ": every rank must see the same file (a path on node-local storage such as /tmp, /scratch or /dev/shm is one "
    "file per node; use a file system all nodes share)";

/// Runs `agree` (collective: its answer is the same on every rank) until it
/// says yes or kLagSeconds have passed, refreshing this rank's view of the
/// folder between tries. An NFS client trusts its cached folder for up to
/// 30-60 s (a file rank 0 just made or renamed can read as absent there); a
/// listing of the folder revalidates it. A real difference (node-local
/// storage) costs these seconds once, before its error.
bool agree_within_lag(const std::string& path, Communicator& comm, const std::function<bool()>& agree) {
  constexpr double kLagSeconds = 10;
  const auto t0 = std::chrono::steady_clock::now();
  for (int round = 0;; ++round) {
    if (agree()) {
      if (round > 0 && comm.rank() == 0)
        log::info("ranks agreed on ", path, " after ", round, " tries (a file system showing changes late)");
      return true;
    }
    double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    comm.broadcast(&waited, sizeof(waited), 0);  // rank 0's clock decides, so every rank stops together
    if (waited >= kLagSeconds) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    const std::string dir = fs::path(path).parent_path().string();
    if (DIR* d = ::opendir(dir.empty() ? "." : dir.c_str())) ::closedir(d);
  }
}

}  // namespace

void require_same_file_on_ranks(const std::string& path, Communicator& comm, const std::string& what) {
  if (comm.size() == 1) return;
  std::vector<View> all;
  std::string others;
  int differing = 0;
  const bool same = agree_within_lag(path, comm, [&] {
    all = comm.allgather(std::vector<View>{view_of(path)});
    others.clear();
    differing = 0;
    for (int r = 1; r < comm.size(); ++r) {
      const View& v = all[size_t(r)];
      if (v.kind == all[0].kind && v.size == all[0].size && v.sample == all[0].sample) continue;
      if (++differing <= 3) others += fmt(", rank ", r, " sees ", describe(v));
    }
    return differing == 0;
  });
  if (same) return;
  throw Error(fmt("the ranks see different files at ", what, " ", path, ": rank 0 sees ", describe(all[0]), others,
                  differing > 3 ? fmt(" (and ", differing - 3, " more ranks)") : std::string(), kShared));
}

/// Removes a stale `path` (not a folder; one that cannot be removed is
/// said, with its owner). Throws when it cannot.
void remove_stale(const std::string& path) {
  struct stat st{};
  if (lstat(path.c_str(), &st) != 0) return;
  if (S_ISDIR(st.st_mode))
    throw Error(fmt(path, " is a folder, not distclust's staging file: remove it, or choose another output"));
  if (std::remove(path.c_str()) == 0 || errno == ENOENT) return;
  throw Error(fmt("cannot replace ", path, " (left by an earlier job, owner uid ", st.st_uid, "): ",
                  std::strerror(errno), "; remove it"));
}

void require_shared_output(const std::string& path, Communicator& comm) {
  // A stale file is replaced, never written through: a symbolic link left
  // there once made the output overwrite the file it pointed to.
  if (comm.size() == 1) return remove_stale(path);
  std::string token;
  run_on_root(comm, "creating " + path, [&] {
    remove_stale(path);
    char host[128] = "?";
    gethostname(host, sizeof(host) - 1);
    token = fmt("distclust ", host, " ", ::getpid(), " ",
                std::chrono::steady_clock::now().time_since_epoch().count(), "\n");
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) throw Error(fmt("cannot create ", path, ": ", std::strerror(errno)));
    const int e = write_all(fd, token.data(), token.size());
    ::close(fd);
    if (e != 0) throw Error(fmt("writing ", path, " failed: ", std::strerror(e)));
  });
  comm.broadcast(token, 0);
  // Rank 0 closed the file before the broadcast: close-to-open consistency
  // (NFS) shows its content to an open that comes after.
  std::string bad;
  int n_bad = 0;
  const bool seen = agree_within_lag(path, comm, [&] {
    const int ok = comm.rank() == 0 || head_of(path, token.size() + 1) == token;
    const std::vector<int> oks = comm.allgather(std::vector<int>{ok});
    bad.clear();
    n_bad = 0;
    for (int r = 1; r < comm.size(); ++r)
      if (!oks[size_t(r)] && ++n_bad <= 8) bad += fmt(n_bad > 1 ? "," : "", r);
    return n_bad == 0;
  });
  if (seen) return;
  if (comm.rank() == 0) std::remove(path.c_str());
  throw Error(fmt("rank", n_bad > 1 ? "s " : " ", bad, n_bad > 8 ? ",..." : "", " of ", comm.size(),
                  " do not see the file ", path, " that rank 0 created (it is missing there, or another file of that "
                  "name)", kShared));
}

}  // namespace distclust
