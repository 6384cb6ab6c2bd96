#include <mpi.h>

#include "distclust/comm.h"
#include "distclust/error.h"

namespace distclust {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: case DType::i32: return 4;
    case DType::f64: case DType::i64: return 8;
    case DType::u8: return 1;
  }
  return 0;
}

RowRange row_block(int64_t n, int rank, int size) {
  // 128-bit product: n * rank overflows int64 for n ~ 1e17 / 64 ranks; be safe.
  auto edge = [&](int r) { return static_cast<int64_t>((static_cast<__int128>(n) * r) / size); };
  return {edge(rank), edge(rank + 1)};
}

void CommParams::validate() const {
  require(comm == "auto" || comm == "local" || comm == "mpi" || comm == "nccl",
          "comm: '", comm, "' is not one of auto|local|mpi|nccl");
}

}  // namespace distclust
