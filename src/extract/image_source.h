// Image sources: the rows that the extract stage turns into features.
//
// A source is an indexed, read-only list of N images, each with an id (a path
// or "FILE:INDEX"), a label (-1 when unknown) and its pixels or encoded bytes.
// Row order is fixed when the source is opened (sorted paths, file order), so
// every rank of a job, and every restart, sees the same row for the same index:
// rank r of P reads rows [floor(r*N/P), floor((r+1)*N/P)).
//
// Thread safety: after construction every const method may be called from
// many threads at once (the decode pool reads distinct rows in parallel).
// Folder, list and CIFAR sources use independent POSIX reads; the HDF5 source
// reads contiguous uncompressed datasets with pread() and otherwise serialises
// its HDF5 calls on hdf5_mutex() (Debian's HDF5 is not built thread-safe).
//
// Kinds (SourceParams::type):
//   folder  ImageFolder layout (root/<class>/.../img.jpg, classes = sorted
//           subfolder names -> 0..C-1) or a flat folder (labels -1); recursive.
//   list    a text file, one "path[,label]" a line.
//   hdf5    uint8 dataset N x H x W x C (C = 1 or 3; N x H x W means C = 1)
//           plus an optional integer labels dataset of length N.
//   cifar   CIFAR-10 / CIFAR-100 binary batches (a .bin file or a folder).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

namespace distclust {

/// Where and how to read the images of the extract stage (derived from the
/// `extract` section: source_params(); not a YAML section of its own).
struct SourceParams {
  /// Folder, list file (.txt/.csv/.lst), HDF5 file (.h5/.hdf5), CIFAR .bin file or folder of batches.
  std::string path = "";
  /// auto|folder|list|hdf5|cifar; auto decides from the path (see open_source).
  std::string type = "auto";
  /// Folder source: auto|yes|no. yes = first-level subfolders are classes;
  /// no = every image gets label -1; auto = classes unless images lie directly in the root.
  std::string folder_labels = "auto";
  /// HDF5 source: dataset of uint8 pixels, N x H x W x C.
  std::string hdf5_images = "/images";
  /// HDF5 source: integer dataset of N labels; "" = none; absent = labels -1.
  std::string hdf5_labels = "/labels";
  /// CIFAR source given a folder: all|train|test batches.
  std::string cifar_split = "all";
  /// Encoded files larger than this are not read (row marked invalid): guards memory.
  int64_t max_file_bytes = int64_t(256) << 20;

  template <class V>
  void visit(V& v) {
    v("path", path, "folder, list file, HDF5 file, CIFAR .bin file or folder of batches");
    v("type", type, "auto|folder|list|hdf5|cifar");
    v("folder_labels", folder_labels, "folder source: auto|yes|no (class subfolders give labels)");
    v("hdf5_images", hdf5_images, "HDF5 source: uint8 dataset N x H x W x C");
    v("hdf5_labels", hdf5_labels, "HDF5 source: integer labels dataset ('' = none)");
    v("cifar_split", cifar_split, "CIFAR folder: all|train|test batches");
    v("max_file_bytes", max_file_bytes, "encoded files larger than this are skipped as invalid");
  }
  /// Throws Error naming the bad field and value.
  void validate() const;
};

/// One row as the source holds it. Folder and list sources give the encoded
/// file (decode.h turns it into pixels); HDF5 and CIFAR give pixels.
struct RawImage {
  /// true: `bytes` holds the file's contents (maybe 0 bytes); false: `pixels` is set.
  bool encoded = true;
  /// Encoded file contents (JPEG, PNG, ...) when `encoded`.
  std::vector<uint8_t> bytes;
  /// H x W, CV_8UC3, RGB channel order, when !encoded.
  cv::Mat pixels;
};

/// `path` as an absolute path from the current folder, normalised; a ".."
/// is resolved by the file system (weakly_canonical), since after a
/// symbolic link it leads to the link target's parent: as text, "a/../imgs"
/// with a -> x/y named ./imgs, other images than the x/imgs read.
std::string absolute_normal_path(const std::string& path, const std::string& cwd);

/// An indexed read-only collection of images; see the file comment.
class ImageSource {
 public:
  virtual ~ImageSource() = default;

  /// Number of rows N.
  virtual int64_t size() const = 0;
  /// Row i's id: the file path (folder, list) or "FILE:INDEX" (HDF5, CIFAR).
  virtual std::string id(int64_t i) const = 0;
  /// Row i's id as listed, relative to the source as given (id() may make
  /// it absolute): cheap, and alike on ranks whose working folders or
  /// mount paths differ. What the ranks compare (source_agreement.h).
  virtual std::string listed_id(int64_t i) const { return id(i); }
  /// Row i's label in [0, C) or -1 when unknown.
  virtual int64_t label(int64_t i) const = 0;
  /// Class names by label, or empty when the source has none.
  virtual std::vector<std::string> class_names() const = 0;
  /// Row i's image. Throws Error (naming the id) when the row cannot be read,
  /// e.g. a file that vanished or is over max_file_bytes; decode.h's
  /// load_image() turns that into an invalid row instead.
  virtual RawImage read(int64_t i) const = 0;
  /// "folder", "list", "hdf5" or "cifar".
  virtual std::string kind() const = 0;
  /// One line for logs and file attributes: kind, path, rows, classes.
  std::string describe() const;
  /// Said after "the warnings above give the reasons" when images could not
  /// be read: for a list file, where its relative paths are read from.
  std::string unreadable_hint() const;

 protected:
  /// Throws Error naming the source when i is not in [0, size()).
  void check_row(int64_t i) const;
  /// The path given to open_source (for messages).
  std::string path_;
};

/// Opens the source described by p (p.validate() is called). type auto:
/// a directory is a folder source unless it directly holds CIFAR batches
/// (data_batch_*.bin, test_batch.bin, train.bin, test.bin); .h5/.hdf5 -> hdf5;
/// .txt/.csv/.lst -> list; .bin -> cifar. Errors name the path and what was
/// expected (missing path, no images, bad header, bad dataset shape, ...).
std::unique_ptr<ImageSource> open_source(const SourceParams& p);

/// True when the file name ends in an image extension the folder source lists
/// (jpg jpeg png bmp tif tiff webp, any case).
bool has_image_extension(const std::string& path);

/// The process-wide lock for HDF5 library calls. Debian's parallel HDF5 is
/// not thread-safe: any thread calling HDF5 while decode threads may read an
/// HDF5 source (chunked or compressed dataset) must hold it.
std::mutex& hdf5_mutex();

}  // namespace distclust
