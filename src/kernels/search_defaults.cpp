// SearchKernel's default joins (include/distclust/search.h): two search()
// calls. Built into the binary and into the LibTorch plugin (kernels/
// CMakeLists.txt), whose kernel derives from SearchKernel: the plugin is not
// linked against distclust_core, so it needs its own copy of the class's
// out-of-line members (and with them its vtable and type info).
#include "distclust/error.h"
#include "distclust/search.h"

namespace distclust {

void SearchKernel::search_self(const SearchQueries& q, const uint8_t* valid, Metric m, TopK& top,
                               const std::function<void(int64_t)>& on_rows) {
  require(!q.ids && !q.top_rows, "search_self: queries with ids or top_rows are not a self-join");
  search(q, SearchBase{q.x, q.n, q.first_row, nullptr, nullptr, valid, true}, m, top, on_rows);
}

void SearchKernel::search_pair(const SearchQueries& a, const uint8_t* valid_a, const SearchQueries& b,
                               const uint8_t* valid_b, Metric m, TopK& top_a, TopK& top_b,
                               const std::function<void(int64_t)>& on_rows) {
  require(!a.ids && !a.top_rows && !b.ids && !b.top_rows, "search_pair: queries with ids or top_rows");
  search(a, SearchBase{b.x, b.n, b.first_row, nullptr, nullptr, valid_b, true}, m, top_a, on_rows);
  search(b, SearchBase{a.x, a.n, a.first_row, nullptr, nullptr, valid_a, true}, m, top_b);
}

}  // namespace distclust
