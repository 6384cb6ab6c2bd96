#include "comm/root.h"

#include "distclust/error.h"

namespace distclust {

void run_on_root(Communicator& comm, const std::string& what, const std::function<void()>& fn) {
  int64_t ok = 1;
  std::string err;
  if (comm.rank() == 0) {
    try {
      fn();
    } catch (const Error& e) {
      ok = 0;
      err = e.what();
    }
  }
  comm.broadcast(&ok, sizeof(ok), 0);
  if (ok) return;
  if (comm.rank() == 0) throw Error(err);
  throw EchoError(what + " failed on rank 0");
}

}  // namespace distclust
