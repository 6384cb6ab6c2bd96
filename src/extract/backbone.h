// Backbones: the model that turns preprocessed images into feature rows.
//
//   input  x   [B x 3 x S x S] float32, CHW per image (preprocess.h's layout)
//   output out [B x D]         float32, row-major
//
// The seam keeps LibTorch out of every translation unit but one
// (src/extract/backbone_torchscript.cpp, built as the plugin
// libdistclust_torch.so and opened on first use): the extract pipeline sees
// only this interface and receives a BackboneLoader, so the core library, the
// binary and the unit tests build and start without Torch.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace distclust {

/// A feature extractor with a fixed output dimension.
class Backbone {
 public:
  virtual ~Backbone() = default;
  /// D: features per image.
  virtual int64_t dim() const = 0;
  /// x: [batch x 3 x S x S] float32; out: [batch x dim()] float32. batch >= 1.
  /// Throws Error on failure (naming the model and the shape involved).
  virtual void forward(const float* x, int64_t batch, float* out) = 0;
  /// One line for logs and the file's `backbone` attribute: kind, file, device, D.
  virtual std::string describe() const = 0;
  /// True when forward() runs on a GPU: the CPU cores are then all free for
  /// decoding (the pipeline's thread defaults follow this).
  virtual bool on_gpu() const { return false; }
  /// "cpu" or "cuda:N" (N among the GPUs this process sees).
  virtual std::string device() const { return "cpu"; }
};

/// How to load a TorchScript backbone.
struct TorchScriptSpec {
  std::string path;              ///< TorchScript file (torch.jit.save), e.g. models/resnet18.pt
  int input_size = 224;          ///< S: the side of the square input the model is run on
  std::string device = "auto";   ///< auto|cpu|cuda|cuda:N; auto = cuda when LibTorch has CUDA and a GPU, else cpu
  int local_rank = 0;            ///< picks the GPU: cuda:(local_rank % GPUs visible), as the NCCL communicator does
  int threads = 1;               ///< CPU intra-op threads (torch defaults to 1 here: set explicitly)
  std::string autocast = "none"; ///< none|fp16|bf16: mixed precision on the GPU (ignored on the CPU)
  bool flush_denormal = true;    ///< CPU: treat denormal floats as zero (FTZ/DAZ) in the model's threads
};

/// Loads a TorchScript backbone. The model is put in eval mode and probed
/// once with a [2 x 3 x S x S] zero batch: an output [B, D] is used as is,
/// [B, C, H, W] is global-average-pooled to [B, C]; any other output (other
/// rank, a tuple, a dict) is an Error naming the file and the shape. Errors
/// for an unreadable file name the file and LibTorch's reason. Opens the
/// plugin libdistclust_torch.so on first use ($DISTCLUST_TORCH_PLUGIN, else
/// beside the executable, else ../lib/distclust/, else the build tree).
std::unique_ptr<Backbone> load_torchscript_backbone(const TorchScriptSpec& spec);

/// What the extract pipeline calls to get a TorchScript backbone; the CLI
/// passes load_torchscript_backbone, tests pass fakes.
using BackboneLoader = std::function<std::unique_ptr<Backbone>(const TorchScriptSpec&)>;

}  // namespace distclust
