// The JSON file beside a TorchScript model that says how its input is made.
#include <cmath>
#include <filesystem>
#include <limits>

#include "distclust/error.h"
#include "extract/preprocess.h"
#include "core/json.h"
#include "io/regular_file.h"

namespace distclust {
namespace {

using json::Value;

const Value* find(const Value& root, const char* key) {
  auto it = root.obj.find(key);
  return it == root.obj.end() ? nullptr : &it->second;
}

/// An integer in [min, max] (max: what the caller's type and use can take;
/// 4294967328 was taken as 32 by a cast to int).
int64_t integer(const std::string& file, const char* key, const Value& v, int64_t min, int64_t max) {
  require(v.type == Value::Type::number && std::floor(v.num) == v.num && v.num >= double(min) && v.num <= double(max),
          file, ": key '", key, "' is ", v.type == Value::Type::number ? fmt(v.num) : std::string(v.type_name()),
          " (expected an integer in [", min, ", ", max, "])");
  return static_cast<int64_t>(v.num);
}

/// A sidecar holds a few keys (input_size, mean, std, ...): a few hundred bytes.
constexpr int64_t kMaxSidecarBytes = int64_t(1) << 20;

/// Image sides: far above any network's input, far below int's range.
constexpr int64_t kMaxSide = 1 << 15;

std::vector<float> three_floats(const std::string& file, const char* key, const Value* v) {
  require(v != nullptr, file, ": key '", key, "' is missing (expected an array of 3 numbers, R,G,B)");
  require(v->type == Value::Type::array, file, ": key '", key, "' is ", v->type_name(),
          " (expected an array of 3 numbers, R,G,B)");
  require(v->arr.size() == 3, file, ": key '", key, "' has ", v->arr.size(), " values (expected 3, R,G,B)");
  std::vector<float> out;
  for (const Value& x : v->arr) {
    require(x.type == Value::Type::number, file, ": key '", key, "' holds ", x.type_name(), " (expected numbers)");
    // Stored as float32: 1e300 became inf and 1e-300 became 0 ("holds 0").
    require(std::fabs(x.num) <= double(std::numeric_limits<float>::max()), file, ": key '", key, "' holds ",
            fmt(x.num), " (beyond float32's range)");
    out.push_back(static_cast<float>(x.num));
  }
  return out;
}

}  // namespace

ModelSidecar load_model_sidecar(const std::string& path) {
  // RegularFile and a size limit: a FIFO in the sidecar's place hung here,
  // and a link to /dev/zero grew without end.
  const std::vector<uint8_t> bytes =
      RegularFile(path, "model sidecar").read_all(kMaxSidecarBytes, "the limit of 1 MiB for a sidecar (it holds a few keys)");
  Value root = json::parse(std::string(bytes.begin(), bytes.end()), path);
  require(root.type == Value::Type::object, path, ": top level is ", root.type_name(), " (expected an object)");

  ModelSidecar s;
  const Value* size = find(root, "input_size");
  require(size != nullptr, path, ": key 'input_size' is missing (expected [H, W] or N)");
  if (size->type == Value::Type::array) {
    require(size->arr.size() == 1 || size->arr.size() == 2, path, ": key 'input_size' has ", size->arr.size(),
            " values (expected [H, W] or [N])");
    s.input_height = static_cast<int>(integer(path, "input_size", size->arr[0], 1, kMaxSide));
    s.input_width = static_cast<int>(integer(path, "input_size", size->arr.back(), 1, kMaxSide));
  } else {
    s.input_height = s.input_width = static_cast<int>(integer(path, "input_size", *size, 1, kMaxSide));
  }
  s.mean = three_floats(path, "mean", find(root, "mean"));
  s.std = three_floats(path, "std", find(root, "std"));
  for (const Value& x : find(root, "std")->arr)
    require(static_cast<float>(x.num) > 0, path, ": key 'std' holds ", fmt(x.num),
            x.num > 0 ? " (rounds to 0 as float32; expected >= 1e-38)" : " (expected > 0)");
  if (const Value* r = find(root, "resize")) s.resize = static_cast<int>(integer(path, "resize", *r, 1, kMaxSide));
  if (const Value* r = find(root, "interpolation")) {
    require(r->type == Value::Type::string, path, ": key 'interpolation' is ", r->type_name(), " (expected a string)");
    // Checked here so the message names the sidecar, not extract.interpolation.
    require(known_interpolation(r->str), path, ": key 'interpolation' is '", r->str,
            "' (expected bilinear|bicubic|area|lanczos)");
    s.interpolation = r->str;
  }
  if (const Value* r = find(root, "output_dim")) s.output_dim = integer(path, "output_dim", *r, 1, int64_t(1) << 31);
  return s;
}

std::string sidecar_path_for(const std::string& model_path) {
  return std::filesystem::path(model_path).replace_extension(".json").string();
}

void apply_sidecar(const ModelSidecar& s, PreprocessParams& p) {
  require(s.input_height == s.input_width, "model input is ", s.input_height, " x ", s.input_width,
          " (only square inputs are supported: extract.crop is one side)");
  p.crop = s.input_height;
  p.resize = s.resize > 0 ? s.resize : s.input_height;
  p.mean = s.mean;
  p.std = s.std;
  p.scale_to_unit = true;
  if (!s.interpolation.empty()) p.interpolation = s.interpolation;
  // Not validated here: flags may still override these (model_preprocess
  // checks the merged values, naming the sidecar for those it gave).
}

}  // namespace distclust
