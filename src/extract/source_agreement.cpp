#include "extract/source_agreement.h"

#include <cstring>
#include <string>
#include <vector>

#include "distclust/error.h"

namespace distclust {
namespace {

struct Listing {
  int64_t n;
  uint64_t fingerprint;
};

void fnv(uint64_t& h, const void* data, size_t bytes) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < bytes; ++i) h = (h ^ p[i]) * 1099511628211ull;
}

}  // namespace

uint64_t listing_fingerprint(const ImageSource& src) {
  uint64_t h = 14695981039346656037ull;
  const int64_t n = src.size();
  fnv(h, &n, sizeof(n));
  for (int64_t i = 0; i < n; ++i) {
    const std::string id = src.listed_id(i);  // not id(): absolute paths cost a stat each under ".."
    const int64_t label = src.label(i);
    fnv(h, id.c_str(), id.size() + 1);  // with its NUL: "ab","c" is not "a","bc"
    fnv(h, &label, sizeof(label));
  }
  return h;
}

void require_same_listing(const ImageSource& src, const std::string& name, Communicator& comm) {
  if (comm.size() == 1) return;
  const Listing mine{src.size(), listing_fingerprint(src)};
  std::vector<uint8_t> all;
  std::vector<size_t> counts;
  comm.allgatherv(&mine, sizeof(mine), all, counts);
  std::vector<Listing> ranks(size_t(comm.size()));
  std::memcpy(ranks.data(), all.data(), ranks.size() * sizeof(Listing));
  std::string others;
  int differ = 0;
  for (int r = 1; r < comm.size(); ++r) {
    if (ranks[r].n == ranks[0].n && ranks[r].fingerprint == ranks[0].fingerprint) continue;
    if (++differ <= 4)
      others += fmt(", rank ", r, ": ", ranks[r].n, ranks[r].n == ranks[0].n ? " (other names or labels)" : "");
  }
  if (differ == 0) return;
  throw Error(fmt("extract: the ranks do not list the same images in ", name, ": rank 0 lists ", ranks[0].n,
                  others, differ > 4 ? fmt(" and ", differ - 4, " more ranks") : std::string(),
                  ". Images were added, removed or renamed while the job started, or a node's view of a network "
                  "file system lags behind; let the source settle (or give a list file, --source list.txt) and run "
                  "again"));
}

}  // namespace distclust
