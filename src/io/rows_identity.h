// Whose rows a predictions file holds. Row i of kmeans.h5, gmm.h5, scan.h5
// and assign.h5 is row i of the features it was made from; eval, report and
// export pair it with a features (or labels) file row by row, and a file of
// other features with the same row count paired silently (scores of MNIST
// predictions against CIFAR labels, galleries of the wrong images). Each
// predictions file records the identity of its features (io/output_identity.h:
// the config_hash, or size and mtime of a file distclust did not write) and,
// when those features are an embedding, of the features it embeds (embed.h5
// rows are its source's rows); readers check it before pairing.
#pragma once

#include <string>

#include "distclust/comm.h"

namespace distclust {

class H5Writer;

/// The identities of a features file as a predictions file records them.
struct RowsIdentity {
  std::string features;  ///< file_identity(features)
  std::string source;    ///< an embedding's source_features_config_hash, else ""
};

/// Read on rank 0, broadcast (collective).
RowsIdentity rows_identity(const std::string& features, Communicator& comm);

/// Attributes features_config_hash (and source_features_config_hash).
void write_rows_identity(H5Writer& w, const RowsIdentity& id);

/// Throws, naming `who`, both files and both identities, unless `pred`
/// records no identity (a file from elsewhere, or an older distclust) or
/// `features` is (or embeds, or is embedded by) the features whose rows
/// pred's rows are: the same config_hash, or for a file distclust did not
/// write, the same /features shape (its size and mtime change with a copy
/// or an edit). A file with neither (labels only) is not judged. One process.
/// `why`: what the mismatch means to the caller, ending the message.
void require_same_rows(const std::string& pred, const std::string& features, const std::string& who,
                       const std::string& why = "its rows need not be these rows: other images, the same images in another "
                                                "order, or other features of them; run it again on these features, "
                                                "or pass the features it was made from");

}  // namespace distclust
