#include "pipeline/stage_config.h"

#include <sys/stat.h>

#include "distclust/error.h"
#include "io/output_identity.h"

namespace distclust {

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
