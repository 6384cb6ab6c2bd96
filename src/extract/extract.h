// The extract stage: images -> features.h5, across ranks.
//
// Rank r of P owns rows row_block(N, r, P) of the source. On each rank a
// decode pool (decode_pool.h) prepares batches [B x 3 x S x S] while the
// backbone (backbone.h: TorchScript, or pixels.h) runs on the previous one;
// every finished batch is written at once into OUT.tmp (parallel HDF5,
// independent I/O: ranks do not wait for each other per batch), and OUT.tmp
// is renamed to OUT when all rows are in.
//
// Output (features_file.h): /features [N x D] float32 (float16 with half), /labels
// [N] int64 (-1 unknown), /valid [N] uint8 (0 = unreadable image, zero
// features), /ids [N] fixed-length strings (paths, or FILE:INDEX), and with a
// PCA (any backbone; pca_file.h) /pca_mean [D_in], /pca_components
// [d x D_in], /pca_variances [d], /pca_whiten_scales [d] when whitened;
// attributes backbone, model (model_fingerprint), preprocessing, source, created_by, config_hash,
// class_names (JSON list), params (resolved YAML), invalid_rows.
//
// Resume: OUT.tmp also holds /done [N] uint8, set for a batch's rows once a
// sync after them has put them on the disk (extract_output.h: paced, every
// 2 s). A run that finds OUT.tmp with the same config hash (output-affecting
// settings, N, D, model file contents) computes only the rows not done, and
// ends with the same file an uninterrupted run writes; other OUT.tmp files
// are replaced. Test hook: DISTCLUST_FAULT_AFTER_BATCHES=K kills a rank
// (SIGKILL; mpirun then ends the others) once it has written K batches.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "extract/backbone.h"
#include "core/stage.h"
#include "distclust/comm.h"
#include "extract/decode_pool.h"
#include "extract/image_source.h"
#include "extract/pixels.h"
#include "extract/preprocess.h"

namespace distclust {

/// Parameters of `distclust extract` (YAML section `extract`).
struct ExtractParams {
  std::string source = "";            ///< images: folder, list file, HDF5 file, CIFAR batches (image_source.h)
  std::string source_type = "auto";   ///< auto|folder|list|hdf5|cifar
  std::string folder_labels = "auto"; ///< folder source: auto|yes|no (class subfolders give labels)
  std::string hdf5_images = "/images";  ///< HDF5 source: uint8 dataset N x H x W x C
  std::string hdf5_labels = "/labels";  ///< HDF5 source: labels dataset ('' = none)
  std::string cifar_split = "all";    ///< CIFAR folder: all|train|test
  std::string backbone = "";          ///< TorchScript file (.pt with a .json sidecar) or "pixels"
  std::string out = "features.h5";    ///< output file (written as OUT.tmp, renamed when complete)
  int batch = 64;                     ///< images per backbone call
  int decode_threads = 0;             ///< decode/preprocess threads per rank; 0 = auto (see resolve_threads)
  int torch_threads = 0;              ///< CPU threads of the backbone; 0 = the runtime's compute threads
  int queue_batches = 3;              ///< decoded batches buffered ahead of the backbone (bounds memory)
  std::string device = "auto";        ///< auto|cpu|cuda|cuda:N (cuda: local_rank % GPUs); auto follows runtime.device
  std::string autocast = "none";      ///< none|fp16|bf16 mixed precision (GPU only)
  bool flush_denormal = true;         ///< CPU: denormal floats as zero (FTZ/DAZ), ~1.5x faster here; false = PyTorch's default
  bool half = false;                  ///< store /features as float16
  /// L2-normalise each stored row. With a PCA on a network backbone, rows
  /// are L2-normalised before the PCA too (fit and apply), the recipe for
  /// pretrained features: backbone -> L2 -> PCA (-> whiten) -> L2. Why:
  /// a network's activation norm follows image content (contrast, object
  /// size, texture) more than class, and the later stages compare directions
  /// (cosine kNN, spherical k-means); unnormalised, the leading components
  /// spend themselves on that norm. After the projection (and whitening
  /// above all) rows are no longer unit length, so they are put back on the
  /// sphere. The pixels backbone's PCA is not preceded by the L2 step: its
  /// moments are exact on the 8-bit values (pixels.h), and unlike a
  /// network's features raw pixels have no scale-free reading to keep.
  bool normalize = false;
  int pixels_size = 32;               ///< pixels backbone: side S of the resized image (D = 3*S*S before PCA)
  /// Pixels backbone: shear each resized image so that its ink's principal
  /// axis is vertical and centre its ink (deskew.h): handwriting and other
  /// strokes drawn at a slant. The PCA is fitted on the deskewed images.
  bool pixels_deskew = false;
  int pca_dim = 0;                    ///< principal components kept, any backbone (0 = no PCA)
  int64_t pca_sample = 20000;         ///< rows sampled to fit the PCA
  /// Whiten the PCA: component k scaled by 1 / sqrt(variance_k + 1e-6 *
  /// variance_0) (pca.h kWhitenEps), so every kept component has ~unit
  /// variance and k-means weighs them equally.
  bool pca_whiten = false;
  /// A features.h5 whose stored PCA (/pca_mean, /pca_components,
  /// /pca_whiten_scales) is applied instead of fitting one: new images
  /// projected exactly as that file's were ('' = fit here when pca_dim > 0).
  std::string pca_from = "";
  int resize = -1;                    ///< shorter side before the crop; -1 = from the sidecar (TorchScript), 0 = keep
  int crop = -1;                      ///< centre crop; -1 = the sidecar's input size
  std::vector<float> mean{};          ///< per-channel mean R,G,B; [] = sidecar (pixels: 0)
  std::vector<float> std{};           ///< per-channel std R,G,B; [] = sidecar (pixels: 1)
  std::string interpolation = "";     ///< bilinear|bicubic|area|lanczos; '' = sidecar or bilinear
  int64_t max_pixels = 100'000'000;   ///< images with more pixels are refused undecoded (invalid rows)
  int64_t max_file_bytes = int64_t(256) << 20;  ///< larger files are not read (invalid rows)
  int64_t seed = 1;                   ///< keys the PCA sample: (seed, global row)
  bool resume = true;                 ///< continue from OUT.tmp when it was made with the same settings
  bool force = false;                 ///< replace an existing --out that distclust did not write, or that another command wrote (io/replace_rule.h)
  double progress_seconds = -1;       ///< rank 0 progress line interval (0 = none; -1 = DISTCLUST_PROGRESS_SECONDS, else 10)

  template <class V>
  void visit(V& v) {
    v("source", source, "images: folder, list file (path[,label]), HDF5 file, CIFAR .bin or folder");
    v("source_type", source_type, "auto|folder|list|hdf5|cifar");
    v("folder_labels", folder_labels, "folder source: auto|yes|no (class subfolders give labels)");
    v("hdf5_images", hdf5_images, "HDF5 source: uint8 dataset N x H x W x C");
    v("hdf5_labels", hdf5_labels, "HDF5 source: labels dataset ('' = none)");
    v("cifar_split", cifar_split, "CIFAR folder: all|train|test");
    v("backbone", backbone, "TorchScript file (.pt + .json sidecar) or 'pixels'");
    v("out", out, "output features file");
    v("batch", batch, "images per backbone call");
    v("decode_threads", decode_threads, "decode threads per rank (0 = auto)");
    v("torch_threads", torch_threads, "backbone CPU threads per rank (0 = runtime threads)");
    v("queue_batches", queue_batches, "decoded batches buffered ahead of the backbone");
    v("device", device, "auto|cpu|cuda|cuda:N (cuda: GPU local_rank % GPUs); auto follows runtime.device");
    v("autocast", autocast, "none|fp16|bf16 mixed precision on the GPU");
    v("flush_denormal", flush_denormal, "CPU: flush denormal floats to zero (faster; false = PyTorch default)");
    v("half", half, "store features as float16");
    v("normalize", normalize, "L2-normalise feature rows (with PCA on a network backbone: before and after it)");
    v("pixels_size", pixels_size, "pixels backbone: resize images to S x S");
    v("pixels_deskew", pixels_deskew, "pixels backbone: deskew and centre each image by its ink's moments (handwriting)");
    v("pca_dim", pca_dim, "PCA components kept, any backbone (0 = none)");
    v("pca_sample", pca_sample, "rows sampled to fit the PCA");
    v("pca_whiten", pca_whiten, "whiten the PCA: component k / sqrt(variance_k + 1e-6 variance_0)");
    v("pca_from", pca_from, "apply the PCA stored in this features.h5 instead of fitting one ('' = none)");
    v("resize", resize, "shorter side before cropping (-1 = from the model sidecar, 0 = keep the image's size)");
    v("crop", crop, "centre crop side (-1 = the model's input size, 0 = no crop)");
    v("mean", mean, "per-channel mean R,G,B of pixels scaled to [0, 1] ([] = sidecar; pixels: 0)");
    v("std", std, "per-channel std R,G,B of pixels scaled to [0, 1] ([] = sidecar; pixels: 1)");
    v("interpolation", interpolation, "bilinear|bicubic|area|lanczos ('' = sidecar or bilinear)");
    v("max_pixels", max_pixels, "refuse images with more pixels (decompression-bomb guard)");
    v("max_file_bytes", max_file_bytes, "refuse files larger than this");
    v("seed", seed, "seed of the PCA sample");
    v("resume", resume, "resume from OUT.tmp when made with the same settings");
    v("force", force, "replace an existing --out that distclust did not write, or that another command wrote");
    v("progress_seconds", progress_seconds, "seconds between progress lines (0 = none; -1 = $DISTCLUST_PROGRESS_SECONDS or 10)");
  }
  /// Throws Error naming the bad field and value.
  void validate() const;
  /// True for the pixels backbone.
  bool is_pixels() const { return backbone == "pixels"; }
};

/// The model's identity: "pixels", or the size and FNV-1a of the TorchScript
/// file's bytes (features.h5 attribute `model`; `assign` refuses features or
/// a model file whose fingerprint differs from the run's).
std::string model_fingerprint(const ExtractParams& p);

/// The input transform as the features file's `preprocessing` attribute
/// records it, resolved from the settings and, for a TorchScript model, its
/// JSON sidecar (input size, mean, std): part of extract's identity, so
/// that a sidecar edited after a run is not taken for the same features,
/// and compared by `assign --source` with the run's (the attribute is this
/// text, then what a PCA adds: ", L2-normalised, PCA to ...").
std::string preprocessing_text(const ExtractParams& p);

/// The source settings of p.
SourceParams source_params(const ExtractParams& p);

/// The preprocessing of a TorchScript backbone: the sidecar beside the model
/// (sidecar_path_for) when it exists, overridden by p's resize, crop, mean,
/// std and interpolation where set. Without a sidecar crop, mean and std must
/// be given. Throws Error naming the model and the missing setting.
/// sidecar_output_dim (optional): the sidecar's output_dim, -1 when it has
/// none or there is no sidecar (read with the rest: the file is read once).
PreprocessParams model_preprocess(const ExtractParams& p, int64_t* sidecar_output_dim = nullptr);

/// The normalisation of the pixels backbone: mean/std from p or 0/1.
PreprocessParams pixels_normalization(const ExtractParams& p);

/// Thread split on a rank with `cores` cores: {decode threads, backbone
/// threads} (p's values where > 0). Pixels backbone: all cores decode (the
/// "forward" is a copy or a projection). GPU: every core but the one that
/// feeds the GPU decodes. TorchScript on the CPU: the backbone and the
/// decoders each get all cores. Decoders sleep while the queue is full and
/// then fill a batch in a short burst on every core; a single decoder instead
/// preempts one backbone thread for longer, and the backbone's bulk-synchronous
/// parallel regions wait for that straggler (2 cores, ResNet-20: 0.88 of the
/// limit with 1 decoder, 0.96 with 2; bench/RESULTS-extract.md).
std::pair<int, int> resolve_threads(const ExtractParams& p, int cores, bool pixels, bool gpu);

/// The backbone of p and the row transform that feeds it, as run_extract
/// builds them (also used by `distclust bench extract`).
struct ExtractModel {
  std::unique_ptr<Backbone> net;
  RowPreprocessor prep;             ///< decoded RGB image -> row_floats floats
  int64_t row_floats = 0;           ///< 3 x S x S
  std::string preprocessing;        ///< text for the file's `preprocessing` attribute
  std::shared_ptr<const Projection> pca;  ///< the PCA applied after the backbone (null = none)
  int decode_threads = 1;           ///< resolve_threads' split for this backbone
  int model_threads = 1;
};

/// Loads the backbone (loader for TorchScript) on a rank with `cores` cores,
/// with its PCA: read from p.pca_from, or `resumed` (the PCA of the OUT.tmp
/// being resumed: pca_file.h read_resumable_projection) when given, or
/// fitted on src (collectively) when p.pca_dim > 0. Throws Error naming
/// pca_from when it holds no projection or one that does not fit the
/// backbone or p.
ExtractModel make_extract_model(const ExtractParams& p, const ImageSource& src, Communicator& comm,
                                const BackboneLoader& loader, int cores, const Projection* resumed = nullptr);

/// What one run did (every rank gets the job totals).
struct ExtractSummary {
  int64_t rows = 0;          ///< N
  int64_t dim = 0;           ///< D
  int64_t computed = 0;      ///< rows computed by this run (N minus rows resumed)
  int64_t resumed = 0;       ///< rows found done in OUT.tmp
  int64_t invalid = 0;       ///< rows with valid = 0 in the file
  double seconds = 0;        ///< wall time of the run
  double images_per_second = 0;  ///< computed / time spent in the batch loop
  std::string backbone;      ///< Backbone::describe()
};

/// Runs the stage (collective). loader builds TorchScript backbones (unused
/// for pixels). cfg: the resolved config (the `params` attribute) and the
/// config hash (`config_hash`, and the key that lets a rerun resume OUT.tmp). Throws Error for a missing source, no images, an unreadable
/// model, a model output of unexpected shape, or a D that differs from
/// OUT.tmp's on resume with the same settings.
ExtractSummary run_extract(const ExtractParams& p, Communicator& comm, const BackboneLoader& loader,
                           const StageConfig& cfg);

}  // namespace distclust
