#include "io/input_watch.h"

#include "distclust/error.h"
#include "io/output_identity.h"

namespace distclust {
namespace {
InputWatch* g_watch = nullptr;  // the running stage's (main thread only)
}  // namespace

InputWatch::InputWatch(const std::vector<std::string>& files, Communicator& comm, const std::string& taken)
    : previous_(g_watch) {
  std::string ids = taken;  // "ID;" per non-empty file, in order
  if (ids.empty()) {
    if (comm.rank() == 0)
      for (const std::string& f : files)
        if (!f.empty()) ids += file_identity(f) + ";";
    comm.broadcast(ids, 0);
  }
  size_t at = 0;
  for (const std::string& f : files) {
    if (f.empty()) continue;
    const size_t end = ids.find(';', at);
    files_.emplace_back(f, ids.substr(at, end - at));
    at = end + 1;
  }
  g_watch = this;
}

InputWatch::~InputWatch() { g_watch = previous_; }

std::string InputWatch::identities() const {
  std::string out;
  for (const auto& f : files_) out += f.second + ";";
  return out;
}

std::string InputWatch::changed() const {
  for (const auto& [path, was] : files_) {
    const std::string now = file_identity(path);
    if (now != was)
      return fmt("input ", path, " changed while this stage ran (its identity was '", was, "' at the start, '", now,
                 "' now): the results are the old file's");
  }
  return "";
}

std::string changed_inputs_here() { return g_watch != nullptr ? g_watch->changed() : std::string(); }

std::string changed_inputs(Communicator& comm) {
  std::string why;
  if (comm.rank() == 0) why = changed_inputs_here();
  comm.broadcast(why, 0);
  return why;
}

}  // namespace distclust
