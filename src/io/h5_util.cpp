#include "io/h5_util.h"

#include <cstring>
#include <vector>

#include "comm/mpi_comm.h"

namespace distclust::h5 {

namespace {

/// Throws when part of dataset ds [dims] was never written: HDF5 reads
/// storage that was never allocated as the fill value, so a writer that
/// died half way (h5py: 3 of 6 chunks) had its missing rows clustered as
/// zeros with exit 0. A chunked dataset must hold every chunk, a contiguous
/// one its storage. A fill value its writer chose (h5py fillvalue=-1 for
/// unknown labels) is content, not a gap: such a dataset passes. (Files
/// written through MPI-IO allocate every chunk at creation: there an
/// unwritten part cannot be told from zeros.)
void require_stored(hid_t ds, hid_t dcpl, hid_t space, const std::vector<hsize_t>& dims, const std::string& what) {
  hsize_t elements = 1;
  for (hsize_t d : dims) elements *= d;
  if (elements == 0) return;
  H5D_fill_value_t fill{};
  if (H5Pfill_value_defined(dcpl, &fill) >= 0 && fill == H5D_FILL_VALUE_USER_DEFINED) return;
  const H5D_layout_t layout = H5Pget_layout(dcpl);
  if (layout == H5D_CONTIGUOUS) {
    H5D_space_status_t status{};
    DC_H5(H5Dget_space_status(ds, &status));
    require(status != H5D_SPACE_STATUS_NOT_ALLOCATED, what,
            " was never written (no storage is allocated: it would read as zeros, its default fill value)");
  }
#if H5_VERSION_GE(1, 10, 5)
  if (layout == H5D_CHUNKED) {
    std::vector<hsize_t> chunk(dims.size());
    require(H5Pget_chunk(dcpl, int(chunk.size()), chunk.data()) == int(chunk.size()), what, ": unreadable chunk shape");
    hsize_t expected = 1;
    for (size_t i = 0; i < dims.size(); ++i) expected *= chunk[i] > 0 ? (dims[i] + chunk[i] - 1) / chunk[i] : 1;
    hsize_t stored = 0;
    DC_H5(H5Dget_num_chunks(ds, space, &stored));  // (1.10 refuses H5S_ALL)
    require(stored >= expected, what, " holds ", stored, " of its ", expected, " chunks: part of it was never written "
            "(a writer that stopped early?), and would read as zeros (its default fill value); write the whole dataset "
            "again, or give it a fill value of its own");
  }
#endif
}

/// Throws when ds is compressed by a filter this HDF5 build cannot decode
/// (h5py's lzf, a bitshuffle or Blosc plugin): H5Dread's own error named
/// only the plugin folder it searched.
void require_filters(hid_t dcpl, const std::string& what) {
  const int n = H5Pget_nfilters(dcpl);
  for (int i = 0; i < n; ++i) {
    unsigned flags = 0, conf = 0;
    size_t nv = 0;
    char name[128] = {0};
    const H5Z_filter_t id = H5Pget_filter2(dcpl, unsigned(i), &flags, &nv, nullptr, sizeof(name), name, &conf);
    if (id < 0 || H5Zfilter_avail(id) > 0) continue;
    const std::string known = id == 32000 ? "lzf, from h5py" : id == 32008 ? "bitshuffle" : id == 32001 ? "blosc" : id == 32015 ? "zstd" : "";
    throw Error(fmt(what, " is compressed with HDF5 filter ", id, " (", known.empty() ? std::string(name) : known,
                    "), which this HDF5 cannot decode: rewrite it with gzip or no compression (h5py: compression='gzip'), "
                    "or install the filter plugin and set HDF5_PLUGIN_PATH"));
  }
}

}  // namespace

void require_readable(hid_t ds, const std::string& what) {
  hid_t dcpl = DC_H5(H5Dget_create_plist(ds));
  Closer cp{dcpl, H5Pclose};
  require_filters(dcpl, what);
  hid_t sp = DC_H5(H5Dget_space(ds));
  Closer cs{sp, H5Sclose};
  const int nd = H5Sget_simple_extent_ndims(sp);
  std::vector<hsize_t> dims(nd > 0 ? nd : 0);
  if (nd > 0) H5Sget_simple_extent_dims(sp, dims.data(), nullptr);
  require_stored(ds, dcpl, sp, dims, what);
}

void quiet() {
  static const bool done = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

bool link_exists(hid_t file, const std::string& path, const std::string& name) {
  const htri_t e = H5Lexists(file, name.c_str(), H5P_DEFAULT);
  if (e < 0) throw_hdf5_error(("looking up " + name + " in " + path).c_str(), __FILE__, __LINE__);
  return e > 0;
}

bool attr_exists(hid_t file, const std::string& path, const std::string& object, const std::string& attr) {
  const htri_t e = H5Aexists_by_name(file, object.c_str(), attr.c_str(), H5P_DEFAULT);
  if (e < 0) throw_hdf5_error(("looking up attribute " + object + ":" + attr + " in " + path).c_str(), __FILE__, __LINE__);
  return e > 0;
}

hid_t open_dataset(hid_t file, const std::string& path, const std::string& dataset) {
  const hid_t ds = H5Dopen2(file, dataset.c_str(), H5P_DEFAULT);
  if (ds < 0)
    throw Error(fmt(path, ": ", dataset, " cannot be opened as a dataset (a soft or external link to nothing, a group, "
                    "or a damaged object header): ", hdf5_error_text()));
  return ds;
}

hid_t mem_type(DType t) {
  switch (t) {
    case DType::f32: return H5T_NATIVE_FLOAT;
    case DType::f64: return H5T_NATIVE_DOUBLE;
    case DType::i32: return H5T_NATIVE_INT32;
    case DType::i64: return H5T_NATIVE_INT64;
    case DType::u8: return H5T_NATIVE_UINT8;
  }
  return H5T_NATIVE_UINT8;
}

hid_t half_type() {
  // Built once; HDF5 converts it to/from float32 in software.
  static hid_t t = [] {
    // The sequence h5py uses: numpy/h5py read it back as float16.
    hid_t h = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(h, 15, 10, 5, 0, 10);
    H5Tset_size(h, 2);
    H5Tset_ebias(h, 15);
    return h;
  }();
  return t;
}

float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);  // Inf / NaN
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);  // rebias 15 -> 127
  } else if (mant == 0) {
    bits = sign;  // +-0
  } else {  // subnormal: normalise
    int e = -1;
    do {
      ++e;
      mant <<= 1;
    } while ((mant & 0x400) == 0);
    bits = sign | (uint32_t(112 - e) << 23) | ((mant & 0x3ff) << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof(x));
  const uint16_t sign = uint16_t((x >> 16) & 0x8000);
  const uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) return sign | (ax > 0x7f800000u ? 0x7e00 : 0x7c00);  // NaN / Inf
  if (ax >= 0x477ff000u) return sign | 0x7c00;  // rounds beyond 65504: Inf
  if (ax < 0x33000001u) return sign;           // below half the smallest subnormal: 0
  int e = int(ax >> 23) - 127;
  uint32_t mant = (ax & 0x7fffff) | 0x800000;  // 24 bits with the implicit one
  // Shift so that 10 fraction bits remain (more for subnormals).
  int shift = e < -14 ? 13 + (-14 - e) : 13;
  uint32_t q = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
  if (rem > half || (rem == half && (q & 1))) ++q;  // nearest, ties to even; carry flows on
  if (e < -14) return sign | uint16_t(q);            // subnormal (q may carry into the first normal)
  return sign | uint16_t((uint32_t(e + 15) << 10) + (q - 0x400));
}

std::string type_name(hid_t type) {
  H5T_class_t cls = H5Tget_class(type);
  size_t size = H5Tget_size(type);
  if (cls == H5T_FLOAT) return "float" + std::to_string(size * 8);
  if (cls == H5T_INTEGER) {
    bool sign = H5Tget_sign(type) == H5T_SGN_2;
    return std::string(sign ? "int" : "uint") + std::to_string(size * 8);
  }
  if (cls == H5T_STRING) return "string";
  // Named by class, so an error says what the file holds ("other" did not).
  switch (cls) {
    case H5T_ENUM: return "enum (numpy bool, as h5py stores it?)";
    case H5T_COMPOUND: return "compound (numpy complex or a record?)";
    case H5T_BITFIELD: return "bitfield";
    case H5T_OPAQUE: return "opaque";
    case H5T_REFERENCE: return "reference";
    case H5T_ARRAY: return "array";
    case H5T_VLEN: return "variable-length sequence";
    case H5T_TIME: return "time";
    default: return "unknown HDF5 type";
  }
}

hid_t file_access(Communicator& comm) {
  hid_t fapl = DC_H5(H5Pcreate(H5P_FILE_ACCESS));
  if (comm.size() > 1) {
    auto* mpi = dynamic_cast<MpiCommunicator*>(&comm);
    require(mpi != nullptr, "HDF5: a ", comm.name(), " communicator cannot drive MPI-IO");
    DC_H5(H5Pset_fapl_mpio(fapl, mpi->mpi_comm(), MPI_INFO_NULL));
  }
  return fapl;
}

hid_t transfer(Communicator& comm) {
  hid_t dxpl = DC_H5(H5Pcreate(H5P_DATASET_XFER));
  if (comm.size() > 1) DC_H5(H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE));
  return dxpl;
}

}  // namespace distclust::h5
