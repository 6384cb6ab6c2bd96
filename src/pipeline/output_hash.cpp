#include <sys/stat.h>

#include "comm/local_comm.h"
#include "distclust/error.h"
#include "io/h5store.h"
#include "pipeline/stages.h"

namespace distclust {

std::string output_config_hash(const std::string& path, Communicator& comm) {
  std::string h;
  if (comm.rank() == 0) {
    struct stat st{};
    if (stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      try {
        LocalCommunicator self;
        H5Reader r(path, self);
        if (r.has_attr("config_hash")) h = r.attr_string("config_hash");
      } catch (const Error&) {
        h.clear();  // unreadable: treat as absent, the stage runs again
      }
    }
  }
  comm.broadcast(h, 0);
  return h;
}

}  // namespace distclust
