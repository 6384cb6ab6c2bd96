// Checkpoint state, saved and loaded by one mechanism. A state struct lists
// its fields once, as the params structs do:
//
//   struct KMeansState {
//     int restart = 0;
//     std::vector<float> centroids;
//     template <class V> void visit(V& v) { v("restart", restart); v("centroids", centroids); }
//   };
//
// and that list drives the file (vectors as datasets, scalars as
// attributes, in an HDF5 file written as PATH.tmp and renamed, so a state
// that exists is whole), the read, and the broadcast from rank 0 to every
// rank. Field types: std::string, bool, int, int64_t, double,
// std::vector<float | double | int64_t>.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "comm/local_comm.h"
#include "distclust/comm.h"
#include "distclust/error.h"
#include "distclust/log.h"
#include "io/h5store.h"
#include "io/state_checksum.h"

namespace distclust {

namespace state_detail {

/// The file attribute holding the fields' checksum (not a field name).
inline const char* checksum_attr() { return "state_checksum"; }

struct Writer {
  H5Writer& w;
  StateChecksum sum;
  void put(const char* name, const std::string& v) { w.attr(name, v); }
  void put(const char* name, const bool& v) { w.attr(name, int64_t(v ? 1 : 0)); }
  void put(const char* name, const int& v) { w.attr(name, int64_t(v)); }
  void put(const char* name, const int64_t& v) { w.attr(name, v); }
  void put(const char* name, const double& v) { w.attr(name, v); }
  template <class T>
  void put(const char* name, const std::vector<T>& v) { w.write_vector("/" + std::string(name), v); }
  template <class T>
  void operator()(const char* name, const T& v) {
    put(name, v);
    sum.add(name, v);
  }
};

struct Reader {
  const H5Reader& r;
  StateChecksum sum;
  void get(const char* name, std::string& v) { v = r.attr_string(name); }
  void get(const char* name, bool& v) { v = r.attr_double(name) != 0; }
  void get(const char* name, int& v) { v = static_cast<int>(r.attr_double(name)); }
  void get(const char* name, int64_t& v) { v = static_cast<int64_t>(r.attr_double(name)); }
  void get(const char* name, double& v) { v = r.attr_double(name); }
  template <class T>
  void get(const char* name, std::vector<T>& v) { v = r.read_all<T>("/" + std::string(name)); }
  template <class T>
  void operator()(const char* name, T& v) {
    get(name, v);
    sum.add(name, v);  // the value as read back: what a resume would use
  }
};

struct Broadcast {
  Communicator& comm;
  template <class T>
  void operator()(const char*, T& v) {
    if constexpr (std::is_arithmetic_v<T>)
      comm.broadcast(&v, sizeof(T), 0);
    else
      comm.broadcast(v, 0);  // std::string and std::vector: size, then data
  }
};

}  // namespace state_detail

/// Writes s to `path` from this process alone (PATH.tmp, then renamed).
template <class S>
void write_state_file(const std::string& path, S& s) {
  LocalCommunicator self;
  H5Writer w(path, self, /*checkpoint=*/true);
  state_detail::Writer v{w, {}};
  s.visit(v);
  w.attr(state_detail::checksum_attr(), v.sum.hex());
  w.commit();
}

/// Reads `path` into s on this process alone. Throws Error when the file is
/// not a whole state of this kind or its checksum does not match (a state
/// written before checksums were kept has none and is read as it is).
template <class S>
void read_state_file(const std::string& path, S& s) {
  LocalCommunicator self;
  H5Reader r(path, self);
  state_detail::Reader v{r, {}};
  s.visit(v);
  if (!r.has_attr(state_detail::checksum_attr())) return;
  const std::string want = r.attr_string(state_detail::checksum_attr());
  if (want != v.sum.hex())
    throw Error(fmt("checksum mismatch (the file says ", want, ", its contents hash to ", v.sum.hex(),
                    "): its bytes changed after it was written"));
}

/// Collective: rank 0 writes the state; every rank returns once it is on disk.
template <class S>
void save_state(const std::string& path, S& s, Communicator& comm) {
  if (comm.rank() == 0) write_state_file(path, s);
  comm.barrier();
}

/// Collective: when `path` exists, rank 0 reads it and `reject` says why it
/// cannot be used ("" = use it: made with other settings, other shapes);
/// an unreadable file counts as unusable. Returns true and fills s on every
/// rank when the state is used; false (s untouched, the reason logged) else.
template <class S>
bool load_state(const std::string& path, S& s, Communicator& comm,
                const std::function<std::string(const S&)>& reject) {
  S t = s;
  int64_t ok = 0;
  if (comm.rank() == 0 && file_exists(path)) {
    std::string why;
    try {
      read_state_file(path, t);
      why = reject ? reject(t) : std::string();
    } catch (const Error& e) {
      why = std::string("unreadable (") + e.what() + ")";
    }
    if (why.empty())
      ok = 1;
    else
      log::warn("ignoring checkpoint ", path, ": ", why);
  }
  comm.broadcast(&ok, sizeof(ok), 0);
  if (!ok) return false;
  state_detail::Broadcast b{comm};
  t.visit(b);
  s = std::move(t);
  return true;
}

}  // namespace distclust
