#include "io/h5_util.h"

#include "comm/mpi_comm.h"

namespace distclust::h5 {

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
    hid_t h = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(h, 15, 10, 5, 0, 10);
    H5Tset_precision(h, 16);
    H5Tset_size(h, 2);
    H5Tset_ebias(h, 15);
    return h;
  }();
  return t;
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
  return "other";
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
