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
      std::string h = output_config_hash(f);
      if (h.empty()) {
        struct stat st{};
        h = stat(f.c_str(), &st) == 0 ? fmt("size ", st.st_size, " mtime ", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec)
                                      : "missing";
      }
      out += h + ";";
    }
  comm.broadcast(out, 0);
  return out;
}

}  // namespace distclust
