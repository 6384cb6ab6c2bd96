#include "extract/model_zip_check.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "io/regular_file.h"

namespace distclust {
namespace {

// Zip record signatures (APPNOTE.TXT 4.3).
constexpr uint32_t kEndSig = 0x06054b50;         // end of central directory
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kLocalSig = 0x04034b50;
constexpr size_t kEndBytes = 22, kZip64LocatorBytes = 20, kZip64EndBytes = 56, kCentralBytes = 46, kLocalBytes = 30;
constexpr uint32_t kZip64Mark = 0xFFFFFFFF;  // "the value is in the ZIP64 extra field"
// A directory larger than this is a corrupt size, not a model's (a few
// hundred bytes per tensor): left to LibTorch rather than allocated.
constexpr uint64_t kMaxDirectoryBytes = uint64_t(256) << 20;

/// The byte-wise table of the reflected polynomial.
const uint32_t* crc_table() {
  static const auto table = [] {
    static uint32_t t[256];
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  return table;
}

uint16_t u16(const uint8_t* p) { return uint16_t(p[0] | p[1] << 8); }
uint32_t u32(const uint8_t* p) { return u16(p) | uint32_t(u16(p + 2)) << 16; }
uint64_t u64(const uint8_t* p) { return u32(p) | uint64_t(u32(p + 4)) << 32; }

struct Directory {
  uint64_t offset = 0, bytes = 0, count = 0;
};

struct Entry {
  std::string name;
  uint16_t flags = 0, method = 0;
  uint32_t crc = 0;
  uint64_t packed = 0, size = 0, local = 0;
  bool sizes_known = true;  // false: a ZIP64 mark without its extra field
};

/// Finds the end of central directory record in the file's last 64 KiB + 22
/// bytes (a comment may follow it), and its ZIP64 form when the locator
/// precedes it. False when there is none or it points outside the file.
bool find_directory(const RegularFile& f, Directory* d) {
  const uint64_t size = uint64_t(f.size());
  const uint64_t tail = std::min<uint64_t>(size, kEndBytes + 0xFFFF + kZip64LocatorBytes);
  std::vector<uint8_t> t(tail);
  if (f.read_at(t.data(), t.size(), int64_t(size - tail)) != t.size() || tail < kEndBytes) return false;
  size_t at = tail - kEndBytes + 1;
  do {
    if (at-- == 0) return false;
  } while (u32(&t[at]) != kEndSig);
  d->count = u16(&t[at + 10]);
  d->bytes = u32(&t[at + 12]);
  d->offset = u32(&t[at + 16]);
  if (at >= kZip64LocatorBytes && u32(&t[at - kZip64LocatorBytes]) == kZip64LocatorSig) {
    const uint64_t z = u64(&t[at - kZip64LocatorBytes + 8]);
    uint8_t e[kZip64EndBytes];
    if (z > size || f.read_at(e, sizeof(e), int64_t(z)) != sizeof(e) || u32(e) != kZip64EndSig) return false;
    d->count = u64(e + 32);
    d->bytes = u64(e + 40);
    d->offset = u64(e + 48);
  }
  return d->offset <= size && d->bytes <= size - d->offset && d->bytes <= kMaxDirectoryBytes;
}

/// Sizes and offset marked 0xFFFFFFFF are in the ZIP64 extra field (id 1),
/// in this order, each present only when marked.
void read_zip64_extra(const uint8_t* p, size_t n, Entry* e) {
  for (size_t at = 0; at + 4 <= n;) {
    const uint16_t id = u16(p + at), len = u16(p + at + 2);
    const uint8_t* q = p + at + 4;
    const uint8_t* end = q + std::min<size_t>(len, n - at - 4);
    at += 4 + size_t(len);
    if (id != 1) continue;
    for (uint64_t* v : {&e->size, &e->packed, &e->local}) {
      if (*v != kZip64Mark) continue;
      if (q + 8 > end) return;  // sizes_known stays false
      *v = u64(q);
      q += 8;
    }
  }
}

/// The central directory's entries; false when it cannot be read whole.
bool read_entries(const RegularFile& f, const Directory& d, std::vector<Entry>* out) {
  std::vector<uint8_t> b(d.bytes);
  if (f.read_at(b.data(), b.size(), int64_t(d.offset)) != b.size()) return false;
  size_t at = 0;
  for (uint64_t k = 0; k < d.count; ++k) {
    if (at + kCentralBytes > b.size() || u32(&b[at]) != kCentralSig) return false;
    const uint8_t* p = &b[at];
    const size_t name = u16(p + 28), extra = u16(p + 30), comment = u16(p + 32);
    if (at + kCentralBytes + name + extra + comment > b.size()) return false;
    Entry e;
    e.flags = u16(p + 8);
    e.method = u16(p + 10);
    e.crc = u32(p + 16);
    e.packed = u32(p + 20);
    e.size = u32(p + 24);
    e.local = u32(p + 42);
    e.name.assign(reinterpret_cast<const char*>(p + kCentralBytes), name);
    read_zip64_extra(p + kCentralBytes + name, extra, &e);
    e.sizes_known = e.size != kZip64Mark && e.packed != kZip64Mark && e.local != kZip64Mark;
    out->push_back(std::move(e));
    at += kCentralBytes + name + extra + comment;
  }
  return true;
}

/// Whether the entry's bytes match its CRC-32; true when they cannot be
/// checked here (see first_corrupt_zip_entry).
bool crc_matches(const RegularFile& f, const Entry& e) {
  const bool stored = e.method == 0 && !(e.flags & 1) && e.packed == e.size;  // bit 0: encrypted
  if (!stored || !e.sizes_known) return true;
  // The data start after the LOCAL header's name and extra field, which may
  // differ from the central directory's (PyTorch pads the local one to align
  // tensors): a reader goes by the local one, and so does this check.
  uint8_t h[kLocalBytes];
  // A corrupt (ZIP64) offset past the file: not found, so not checked.
  if (e.local > uint64_t(f.size()) || uint64_t(f.size()) - e.local < kLocalBytes) return true;
  if (f.read_at(h, sizeof(h), int64_t(e.local)) != sizeof(h) || u32(h) != kLocalSig) return true;
  const uint64_t data = e.local + kLocalBytes + u16(h + 26) + u16(h + 28);
  if (data > uint64_t(f.size()) || e.size > uint64_t(f.size()) - data) return true;
  uint32_t crc = 0;
  std::vector<uint8_t> buf(size_t(1) << 20);
  for (uint64_t done = 0; done < e.size;) {
    const size_t want = size_t(std::min<uint64_t>(buf.size(), e.size - done));
    const size_t got = f.read_at(buf.data(), want, int64_t(data + done));
    if (got != want) return true;  // shrank while read: not this check's finding
    crc = crc32_update(crc, buf.data(), got);
    done += got;
  }
  return crc == e.crc;
}

}  // namespace

uint32_t crc32_update(uint32_t crc, const uint8_t* data, size_t n) {
  const uint32_t* t = crc_table();
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) crc = t[(crc ^ data[i]) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

std::string first_corrupt_zip_entry(const RegularFile& f) {
  Directory d;
  std::vector<Entry> entries;
  if (!find_directory(f, &d) || !read_entries(f, d, &entries)) return "";
  for (const Entry& e : entries)
    if (!crc_matches(f, e)) return e.name;
  return "";
}

}  // namespace distclust
