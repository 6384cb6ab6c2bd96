#include "scan/scan_checkpoint.h"

#include <sys/stat.h>

#include "comm/local_comm.h"
#include "distclust/h5store.h"
#include "distclust/log.h"

namespace distclust {
namespace {

template <class T>
void put(H5Writer& w, const std::string& name, const std::vector<T>& v) {
  w.write_all<T>(name, {static_cast<int64_t>(v.size())}, v.data());
}

template <class T>
void bcast_vec(std::vector<T>& v, Communicator& comm) {
  int64_t n = static_cast<int64_t>(v.size());
  comm.broadcast(&n, sizeof(n), 0);
  v.resize(size_t(n));
  if (n) comm.broadcast(v.data(), size_t(n) * sizeof(T), 0);
}

}  // namespace

void save_scan_state(const std::string& path, const ScanState& s, Communicator& comm) {
  if (comm.rank() == 0) {
    LocalCommunicator self;
    H5Writer w(path, self);
    put(w, "/params", s.params);
    put(w, "/adam_m", s.m);
    put(w, "/adam_v", s.v);
    put(w, "/loss", s.loss);
    put(w, "/consistency", s.consistency);
    put(w, "/entropy", s.entropy);
    put(w, "/scan_head", s.scan_head);
    put(w, "/self_label_loss", s.sl_loss);
    put(w, "/self_label_confident", s.sl_confident);
    w.attr("key", s.key);
    w.attr("phase", int64_t(s.phase));
    w.attr("next_epoch", int64_t(s.next_epoch));
    w.attr("adam_step", s.adam_step);
    w.attr("kept_head", int64_t(s.kept_head));
    w.attr("heads", int64_t(s.heads));
    w.commit();
  }
  comm.barrier();
}

bool load_scan_state(const std::string& path, const std::string& key, ScanState& s, Communicator& comm) {
  int64_t ok = 0;
  ScanState t;
  if (comm.rank() == 0) {
    struct stat st{};
    if (stat(path.c_str(), &st) == 0) {
      LocalCommunicator self;
      H5Reader r(path, self);
      std::string found = r.has_attr("key") ? r.attr_string("key") : "";
      if (found != key) {
        log::warn("scan: ignoring checkpoint ", path, " made with other parameters or inputs (", found, " != ",
                  key, ")");
      } else {
        t.params = r.read_all<float>("/params");
        t.m = r.read_all<float>("/adam_m");
        t.v = r.read_all<float>("/adam_v");
        t.loss = r.read_all<double>("/loss");
        t.consistency = r.read_all<double>("/consistency");
        t.entropy = r.read_all<double>("/entropy");
        t.scan_head = r.read_all<float>("/scan_head");
        t.sl_loss = r.read_all<double>("/self_label_loss");
        t.sl_confident = r.read_all<int64_t>("/self_label_confident");
        t.phase = int(r.attr_double("phase"));
        t.next_epoch = int(r.attr_double("next_epoch"));
        t.adam_step = int64_t(r.attr_double("adam_step"));
        t.kept_head = int(r.attr_double("kept_head"));
        t.heads = int(r.attr_double("heads"));
        ok = 1;
      }
    }
  }
  comm.broadcast(&ok, sizeof(ok), 0);
  if (!ok) return false;
  int64_t ints[5] = {t.phase, t.next_epoch, t.adam_step, t.kept_head, t.heads};
  comm.broadcast(ints, sizeof(ints), 0);
  t.phase = int(ints[0]);
  t.next_epoch = int(ints[1]);
  t.adam_step = ints[2];
  t.kept_head = int(ints[3]);
  t.heads = int(ints[4]);
  bcast_vec(t.params, comm);
  bcast_vec(t.m, comm);
  bcast_vec(t.v, comm);
  bcast_vec(t.loss, comm);
  bcast_vec(t.consistency, comm);
  bcast_vec(t.entropy, comm);
  bcast_vec(t.scan_head, comm);
  bcast_vec(t.sl_loss, comm);
  bcast_vec(t.sl_confident, comm);
  t.key = key;
  s = std::move(t);
  return true;
}

}  // namespace distclust
