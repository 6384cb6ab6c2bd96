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

/// What one rank sees at a path. kind: 0 absent, 1 a file, 2 unreadable.
/// ends: a hash of its first and last 4 KiB (two files of one size written
/// in the same second, e.g. copies made by one script, differ there).
struct View {
  int64_t kind = 0, size = 0, mtime = 0, err = 0;
  uint64_t ends = 0;
};

/// FNV-1a over the first and the last 4 KiB of fd (size bytes).
uint64_t hash_ends(int fd, int64_t size) {
  uint64_t h = 1469598103934665603ull;
  std::vector<unsigned char> buf(4096);
  for (const int64_t at : {int64_t(0), std::max<int64_t>(0, size - 4096)}) {
    const ssize_t got = ::pread(fd, buf.data(), buf.size(), at);
    for (ssize_t i = 0; i < got; ++i) h = (h ^ buf[size_t(i)]) * 1099511628211ull;
  }
  return h;
}

View view_of(const std::string& path) {
  View v;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    v.kind = errno == ENOENT ? 0 : 2;
    v.err = errno;
    return v;
  }
  struct stat st{};
  if (::fstat(fd, &st) == 0) {
    v.kind = 1, v.size = st.st_size, v.mtime = st.st_mtim.tv_sec;
    v.ends = hash_ends(fd, v.size);
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
  char when[32] = "?";
  const time_t t = time_t(v.mtime);
  struct tm tm{};
  if (gmtime_r(&t, &tm)) std::strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
  char ends[24];
  std::snprintf(ends, sizeof(ends), "%08llx", static_cast<unsigned long long>(v.ends & 0xffffffffull));
  return fmt(v.size, " bytes modified ", when, " (first and last 4 KiB hash to ", ends, ")");
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
      if (v.kind == all[0].kind && v.size == all[0].size && v.mtime == all[0].mtime && v.ends == all[0].ends) continue;
      if (++differing <= 3) others += fmt(", rank ", r, " sees ", describe(v));
    }
    return differing == 0;
  });
  if (same) return;
  throw Error(fmt("the ranks see different files at ", what, " ", path, ": rank 0 sees ", describe(all[0]), others,
                  differing > 3 ? fmt(" (and ", differing - 3, " more ranks)") : std::string(), kShared));
}

void require_shared_output(const std::string& path, Communicator& comm) {
  if (comm.size() == 1) return;
  std::string token;
  run_on_root(comm, "creating " + path, [&] {
    struct stat st{};
    if (lstat(path.c_str(), &st) == 0 && std::remove(path.c_str()) != 0 && errno != ENOENT)
      throw Error(fmt("cannot replace ", path, " (left by an earlier job, owner uid ", st.st_uid, "): ",
                      std::strerror(errno), "; remove it"));
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
