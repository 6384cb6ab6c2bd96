#include "pipeline/stage_config.h"

#include <sstream>

#include <sys/stat.h>

#include "distclust/error.h"
#include "io/output_identity.h"

namespace distclust {

void require_same_settings(const std::string& stage, const std::string& yaml, Communicator& comm) {
  if (comm.size() == 1) return;
  const std::string h = fnv1a_hex(yaml);
  const std::vector<char> all = comm.allgather(std::vector<char>(h.begin(), h.end()));
  bool same = true;
  for (size_t i = 0; i < all.size(); ++i) same = same && all[i] == h[i % h.size()];
  if (same) return;
  // Rare: gather the texts to name what differs (every rank throws alike).
  const std::vector<std::string> per_rank = comm.allgather_strings(yaml);
  auto lines = [](const std::string& t) {
    std::vector<std::string> out;
    std::istringstream in(t);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  };
  const std::vector<std::string> first = lines(per_rank[0]);
  for (size_t r = 1; r < per_rank.size(); ++r) {
    const std::vector<std::string> other = lines(per_rank[r]);
    for (size_t i = 0; i < std::max(first.size(), other.size()); ++i) {
      const std::string a = i < first.size() ? first[i] : "", b = i < other.size() ? other[i] : "";
      if (a == b) continue;
      throw Error(fmt(stage, ": the ranks resolved different settings: rank 0 has '", a, "', rank ", r, " has '", b,
                      "' (a value that depends on the rank, e.g. $OMPI_COMM_WORLD_RANK or a node-local path, ",
                      "cannot be a shared setting)"));
    }
  }
}

std::string inputs_identity(const std::vector<std::string>& files, Communicator& comm) {
  std::string out;
  if (comm.rank() == 0)
    for (const auto& f : files) {
      if (f.empty()) continue;
      out += file_identity(f) + ";";
    }
  comm.broadcast(out, 0);
  return out;
}

}  // namespace distclust
