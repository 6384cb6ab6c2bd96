#include "scan/scan_checkpoint.h"

#include <sys/stat.h>

#include "comm/local_comm.h"
#include "io/h5store.h"
#include "distclust/log.h"

namespace distclust {

void save_scan_state(const std::string& path, const ScanState& s, Communicator& comm) {
  if (comm.rank() == 0) {
    LocalCommunicator self;
    H5Writer w(path, self);
    w.write_vector("/params", s.params);
    w.write_vector("/adam_m", s.m);
    w.write_vector("/adam_v", s.v);
    w.write_vector("/loss", s.loss);
    w.write_vector("/consistency", s.consistency);
    w.write_vector("/entropy", s.entropy);
    w.write_vector("/scan_head", s.scan_head);
    w.write_vector("/self_label_loss", s.sl_loss);
    w.write_vector("/self_label_confident", s.sl_confident);
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
  comm.broadcast(t.params, 0);
  comm.broadcast(t.m, 0);
  comm.broadcast(t.v, 0);
  comm.broadcast(t.loss, 0);
  comm.broadcast(t.consistency, 0);
  comm.broadcast(t.entropy, 0);
  comm.broadcast(t.scan_head, 0);
  comm.broadcast(t.sl_loss, 0);
  comm.broadcast(t.sl_confident, 0);
  t.key = key;
  s = std::move(t);
  return true;
}

}  // namespace distclust
