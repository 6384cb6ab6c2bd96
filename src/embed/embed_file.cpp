// embed.h5: a features file (extract/features_file.h) whose rows are the
// embedding, with the input's /labels, /valid, /ids and class_names, so
// kmeans, scan, eval, report and export read it as they read features.h5.
#include "core/json.h"
#include "distclust/error.h"
#include "embed/embed.h"
#include "io/h5_strings.h"
#include "io/h5store.h"
#include "io/output_identity.h"

namespace distclust {

void write_embedding(const std::string& path, const std::string& features_path, const FeatureBlock& in,
                     const std::vector<float>& y, int dim, const std::string& params_yaml, const std::string& hash,
                     Communicator& comm) {
  // /ids as the input has them: image paths (strings) or integers.
  std::vector<std::string> id_strings;
  std::vector<int64_t> id_ints;
  std::vector<std::string> classes;
  bool strings = false;
  {
    H5Strings s(features_path);
    strings = s.row_strings("/ids", in.n_total);
    if (strings) id_strings = s.read_range("/ids", in.rows);
    classes = s.name_list("/", "class_names");
  }
  if (!strings) {
    H5Reader r(features_path, comm);
    if (r.has("/ids") && r.info("/ids").integer() && r.info("/ids").shape == std::vector<int64_t>{in.n_total}) {
      id_ints = r.read_rows<int64_t>("/ids", in.rows);
    } else {
      for (int64_t i = in.rows.begin; i < in.rows.end; ++i) id_ints.push_back(i);
    }
  }
  std::string source_hash;
  if (comm.rank() == 0) source_hash = file_identity(features_path);
  comm.broadcast(source_hash, 0);
  H5Writer w(path, comm);
  w.create<float>("/features", {in.n_total, dim});
  w.write_rows("/features", in.rows, y.data());
  w.create<int64_t>("/labels", {in.n_total});
  w.write_rows("/labels", in.rows, in.labels.data());
  w.create<uint8_t>("/valid", {in.n_total});
  w.write_rows("/valid", in.rows, in.valid.data());
  if (strings) {
    w.write_strings("/ids", in.n_total, in.rows, id_strings);
  } else {
    w.create<int64_t>("/ids", {in.n_total});
    w.write_rows("/ids", in.rows, id_ints.data());
  }
  w.attr("created_by", std::string("distclust ") + DISTCLUST_VERSION);
  w.attr("stage", std::string("embed"));
  w.attr("backbone", fmt("UMAP-style embedding (", dim, "-D) of ", features_path));
  if (!classes.empty()) w.attr("class_names", json::string_list(classes));
  w.attr("embedded_from", features_path);
  // Lets scan take this file with the knn.h5 of the features it came from.
  if (!source_hash.empty()) w.attr("source_features_config_hash", source_hash);
  w.attr("params", params_yaml);
  w.attr("config_hash", hash);
  w.commit();
}

}  // namespace distclust
