#include "io/h5_strings.h"

#include <algorithm>
#include <cstring>

#include "core/json.h"
#include "distclust/error.h"
#include "io/h5_util.h"
#include "io/h5store.h"

// DC_H5 naming this file and `what` (a dataset or an attribute): the call's
// text alone named neither, e.g. for a damaged /ids in report.
#define DC_H5_IN(what, call)                                                                      \
  ([&]() {                                                                                        \
    auto dc_r_ = (call);                                                                          \
    if (dc_r_ < 0)                                                                                \
      ::distclust::throw_hdf5_error((path_ + ": " + (what) + ": " #call).c_str(), __FILE__, __LINE__); \
    return dc_r_;                                                                                 \
  }())

namespace distclust {

namespace {

// Fixed-length strings end at the first NUL; space padding is removed too.
std::string trim_fixed(const char* p, size_t len, H5T_str_t pad) {
  std::string s(p, strnlen(p, len));
  if (pad == H5T_STR_SPACEPAD)
    while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

}  // namespace

std::string escape_control_chars(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7F) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += char(c);
    }
  }
  return out;
}

bool parse_json_string_list(const std::string& t, std::vector<std::string>& out) {
  out.clear();
  json::Value v;
  try {
    v = json::parse(t, "class_names");
  } catch (const Error&) {
    return false;
  }
  if (v.type != json::Value::Type::array) return false;
  for (const auto& item : v.arr) {
    if (item.type != json::Value::Type::string) return out.clear(), false;
    out.push_back(item.str);
  }
  return true;
}

H5Strings::H5Strings(const std::string& path) : path_(path) {
  check_input_file(path, "HDF5 file");
  require(H5Fis_hdf5(path.c_str()) > 0, path, " is not an HDF5 file");
  file_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file_ < 0) throw_hdf5_error(("H5Fopen(" + path + ")").c_str(), __FILE__, __LINE__);
}

H5Strings::~H5Strings() {
  if (file_ >= 0) H5Fclose(file_);
}

namespace {
/// The length of a string list's dataspace fs ([n] or [n x 1]; nd: its
/// rank), or an Error naming path and dataset.
int64_t list_length(hid_t fs, const std::string& path, const std::string& dataset, int& nd) {
  nd = H5Sget_simple_extent_ndims(fs);
  hsize_t dims[2] = {0, 1};
  require(nd == 1 || nd == 2, path, ": ", dataset, " has ", nd, " dimensions (expected 1)");
  H5Sget_simple_extent_dims(fs, dims, nullptr);
  require(nd == 1 || dims[1] == 1, path, ": ", dataset, " is ", dims[0], " x ", dims[1], " (expected a list)");
  return static_cast<int64_t>(dims[0]);
}
}  // namespace

bool H5Strings::is_strings(const std::string& dataset) const {
  if (!h5::link_exists(file_, path_, dataset)) return false;
  hid_t ds = h5::open_dataset(file_, path_, dataset);
  h5::Closer cd{ds, H5Dclose};
  hid_t ty = DC_H5_IN(dataset, H5Dget_type(ds));
  h5::Closer ct{ty, H5Tclose};
  return H5Tget_class(ty) == H5T_STRING;
}

bool H5Strings::row_strings(const std::string& dataset, int64_t n) const {
  if (!is_strings(dataset)) return false;
  hid_t ds = h5::open_dataset(file_, path_, dataset);
  h5::Closer cd{ds, H5Dclose};
  hid_t fs = DC_H5_IN(dataset, H5Dget_space(ds));
  h5::Closer cs{fs, H5Sclose};
  int nd = 0;
  const int64_t got = list_length(fs, path_, dataset, nd);
  require(got == n, path_, ": ", dataset, " holds ", got, " strings for the ", n,
          " rows of /features: expected one per row (a list of another file's?)");
  return true;
}

std::vector<std::string> H5Strings::read(const std::string& dataset, const std::vector<int64_t>& rows) const {
  // HDF5 returns a point selection in file order whatever the order asked,
  // so read the sorted distinct rows and map back.
  std::vector<int64_t> uniq(rows);
  std::sort(uniq.begin(), uniq.end());
  uniq.erase(std::unique(uniq.begin(), uniq.end()), uniq.end());
  std::vector<std::string> got = read_selected(dataset, &uniq, {});
  std::vector<std::string> out;
  out.reserve(rows.size());
  for (int64_t r : rows) out.push_back(got[std::lower_bound(uniq.begin(), uniq.end(), r) - uniq.begin()]);
  return out;
}

std::vector<std::string> H5Strings::read_range(const std::string& dataset, RowRange rows) const {
  return read_selected(dataset, nullptr, rows);
}

std::vector<std::string> H5Strings::read_selected(const std::string& dataset, const std::vector<int64_t>* rows,
                                                  RowRange range) const {
  require(is_strings(dataset), path_, ": ", dataset, " is absent or does not hold strings");
  hid_t ds = h5::open_dataset(file_, path_, dataset);
  h5::Closer cd{ds, H5Dclose};
  hid_t fs = DC_H5_IN(dataset, H5Dget_space(ds));
  h5::Closer cs{fs, H5Sclose};
  int nd = 0;
  const int64_t n = list_length(fs, path_, dataset, nd);
  size_t count = 0;
  if (rows) {
    for (int64_t r : *rows) require(r >= 0 && r < n, path_, ": row ", r, " is outside ", dataset, " (", n, " rows)");
    count = rows->size();
    if (count) {
      std::vector<hsize_t> coord(count * nd, 0);
      for (size_t i = 0; i < count; ++i) coord[i * nd] = static_cast<hsize_t>((*rows)[i]);
      DC_H5_IN(dataset, H5Sselect_elements(fs, H5S_SELECT_SET, count, coord.data()));
    }
  } else {
    require(range.begin >= 0 && range.begin <= range.end && range.end <= n, path_, ": rows [", range.begin, ", ",
            range.end, ") are outside ", dataset, " (", n, " rows)");
    count = static_cast<size_t>(range.size());
    hsize_t start[2] = {hsize_t(range.begin), 0}, cnt[2] = {hsize_t(count), 1};
    if (count) DC_H5_IN(dataset, H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, nullptr, cnt, nullptr));
  }
  std::vector<std::string> out;
  if (count == 0) return out;
  hsize_t mdim = count;
  hid_t ms = DC_H5_IN(dataset, H5Screate_simple(1, &mdim, nullptr));
  h5::Closer cm{ms, H5Sclose};
  hid_t ft = DC_H5_IN(dataset, H5Dget_type(ds));
  h5::Closer cft{ft, H5Tclose};
  out.reserve(count);
  std::string what = "H5Dread(" + path_ + ":" + dataset + ")";
  if (H5Tis_variable_str(ft) > 0) {
    hid_t mt = DC_H5_IN(dataset, H5Tcopy(H5T_C_S1));
    h5::Closer cmt{mt, H5Tclose};
    DC_H5_IN(dataset, H5Tset_size(mt, H5T_VARIABLE));
    DC_H5_IN(dataset, H5Tset_cset(mt, H5Tget_cset(ft)));
    std::vector<char*> ptrs(count, nullptr);
    if (H5Dread(ds, mt, ms, fs, H5P_DEFAULT, ptrs.data()) < 0) throw_hdf5_error(what.c_str(), __FILE__, __LINE__);
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    H5Dvlen_reclaim(mt, ms, H5P_DEFAULT, ptrs.data());
  } else {
    size_t len = H5Tget_size(ft);
    H5T_str_t pad = H5Tget_strpad(ft);
    std::vector<char> buf(count * len + 1, '\0');
    if (H5Dread(ds, ft, ms, fs, H5P_DEFAULT, buf.data()) < 0) throw_hdf5_error(what.c_str(), __FILE__, __LINE__);
    for (size_t i = 0; i < count; ++i) out.push_back(trim_fixed(buf.data() + i * len, len, pad));
  }
  return out;
}

std::vector<std::string> H5Strings::name_list(const std::string& object, const std::string& name) const {
  std::vector<std::string> names = name_list_as_stored(object, name);
  for (auto& n : names) n = escape_control_chars(n);
  return names;
}

std::vector<std::string> H5Strings::name_list_as_stored(const std::string& object, const std::string& name) const {
  std::vector<std::string> out;
  if (object != "/" && !h5::link_exists(file_, path_, object)) return out;
  if (!h5::attr_exists(file_, path_, object, name)) return out;
  const std::string attr = "attribute " + object + ":" + name;
  hid_t a = DC_H5_IN(attr, H5Aopen_by_name(file_, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT));
  h5::Closer ca{a, H5Aclose};
  hid_t ft = DC_H5_IN(attr, H5Aget_type(a));
  h5::Closer cft{ft, H5Tclose};
  require(H5Tget_class(ft) == H5T_STRING, path_, ": attribute ", object, ":", name, " does not hold strings");
  hid_t sp = DC_H5_IN(attr, H5Aget_space(a));
  h5::Closer csp{sp, H5Sclose};
  hssize_t n = H5Sget_simple_extent_npoints(sp);
  if (n <= 0) return out;
  std::string what = "H5Aread(" + path_ + ":" + object + ":" + name + ")";
  if (H5Tis_variable_str(ft) > 0) {
    hid_t mt = DC_H5_IN(attr, H5Tcopy(H5T_C_S1));
    h5::Closer cmt{mt, H5Tclose};
    DC_H5_IN(attr, H5Tset_size(mt, H5T_VARIABLE));
    DC_H5_IN(attr, H5Tset_cset(mt, H5Tget_cset(ft)));
    std::vector<char*> ptrs(static_cast<size_t>(n), nullptr);
    if (H5Aread(a, mt, ptrs.data()) < 0) throw_hdf5_error(what.c_str(), __FILE__, __LINE__);
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, ptrs.data());
  } else {
    size_t len = H5Tget_size(ft);
    std::vector<char> buf(static_cast<size_t>(n) * len + 1, '\0');
    if (H5Aread(a, ft, buf.data()) < 0) throw_hdf5_error(what.c_str(), __FILE__, __LINE__);
    for (hssize_t i = 0; i < n; ++i) out.push_back(trim_fixed(buf.data() + i * len, len, H5Tget_strpad(ft)));
  }
  if (out.size() != 1) return out;
  // One string: a JSON list, else one name per line.
  std::vector<std::string> names;
  if (parse_json_string_list(out[0], names)) return names;
  names.clear();
  size_t b = 0;
  const std::string& s = out[0];
  while (b <= s.size()) {
    size_t e = s.find('\n', b);
    if (e == std::string::npos) e = s.size();
    names.push_back(s.substr(b, e - b));
    b = e + 1;
  }
  return names;
}

}  // namespace distclust
