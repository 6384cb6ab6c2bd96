#!/usr/bin/python3
"""Export a torchvision or timm image model, without its classifier, as a
TorchScript backbone for `distclust extract`, plus the JSON sidecar that
tells distclust how to preprocess images for it.

  tools/export_backbone.py resnet50 --weights DEFAULT --out models/resnet50.pt
  tools/export_backbone.py vit_base_patch16_224 --source timm --pretrained --out models/vit_b16.pt
  tools/export_backbone.py resnet18 --weights none --out /tmp/resnet18.pt   # random weights, no network
  tools/export_backbone.py vgg16 --layer classifier.3 --out models/vgg16-fc7.pt  # a named layer's output
  tools/export_backbone.py resnet50 --list-layers                             # the names --layer takes

Writes OUT (TorchScript, torch.jit.save) and OUT with .json (the sidecar):
  {"input_size": [H, W], "resize": R, "mean": [3], "std": [3],
   "interpolation": "bilinear"|"bicubic", "output_dim": D, ...provenance}
The model is put in eval mode, its classifier removed (torchvision: the last
nn.Linear becomes nn.Identity, so ResNet gives its pooled 2048/512 features
and ViT its class token; timm: num_classes=0), traced (or scripted with
--script) on a [2, 3, H, W] input, reloaded and checked against the eager
model. With --layer NAME the model instead ends at that layer (a node of
torchvision.models.feature_extraction.create_feature_extractor: a module
path such as avgpool, layer4, classifier.3, or a function node such as
flatten; --list-layers prints them), its output flattened to [B, D]: ResNet-50
avgpool gives 2048, VGG-16 classifier.3 (fc7 before its ReLU) 4096,
classifier.4 (after it) 4096, avgpool or features 25088 = 512 x 7 x 7. The
sidecar's output_dim is that D, its layer the name and layer_shape the
shape before flattening. distclust extract fits a PCA on up to 8192 values
per image (extract.pca_dim): pool larger outputs first. Downloading weights needs internet; --weights none does not.
Needs python3-torch (and python3-torchvision or timm): Debian's
/usr/bin/python3 with apt-get install python3-torchvision works.
"""
import argparse
import difflib
import json
import math
import os
import sys

import torch

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def interp_name(mode):
    """'bilinear' or 'bicubic' from a torchvision InterpolationMode or a timm string."""
    name = str(getattr(mode, "value", mode)).lower()
    for known in ("bicubic", "bilinear", "lanczos"):
        if known in name:
            return known
    if "box" in name or "area" in name:
        return "area"
    sys.exit(f"export_backbone: interpolation {mode!r} is not supported by distclust "
             "(bilinear|bicubic|area|lanczos)")


def last_linear(model):
    """The name of the last nn.Linear in definition order (the classifier), or None."""
    last = None
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear):
            last = name
    return last


def strip_last_linear(model):
    """Replaces the last nn.Linear (in definition order) with nn.Identity."""
    last = last_linear(model)
    if last is None:
        return None
    parent = model
    parts = last.split(".")
    for p in parts[:-1]:
        parent = getattr(parent, p) if not p.isdigit() else parent[int(p)]
    if parts[-1].isdigit():
        parent[int(parts[-1])] = torch.nn.Identity()
    else:
        setattr(parent, parts[-1], torch.nn.Identity())
    return last


class LayerOutput(torch.nn.Module):
    """The model up to one node, its output flattened to [B, D]."""

    def __init__(self, extractor):
        super().__init__()
        self.extractor = extractor

    def forward(self, x):
        return torch.flatten(self.extractor(x)["out"], 1)


def layer_names(model):
    """The node names --layer accepts (eval mode), in graph order."""
    from torchvision.models.feature_extraction import get_graph_node_names
    return get_graph_node_names(model)[1]


def print_layers(model):
    """--list-layers: the graph's nodes, then the modules that are not nodes
    themselves (layer4: a Sequential traced through), which stand for their last node."""
    names = layer_names(model.eval())
    print("\n".join(names))
    nodes = set(names)
    for n in graph_modules(model, names):
        if n not in nodes:
            print(f"{n}  (module: its last node)")


def graph_modules(model, names):
    """Modules that run in eval mode (some graph node lies inside them):
    the others (GoogLeNet's aux1) are not in the traced graph at all."""
    inside = set()
    for node in names:
        parts = node.split(".")
        for i in range(1, len(parts)):
            inside.add(".".join(parts[:i]))
    nodes = set(names)
    return [n for n, _ in model.named_modules() if n and (n in inside or n in nodes)]


def truncate_at(model, layer, model_name):
    """The model ending at `layer`; an unknown name is refused with the close ones."""
    from torchvision.models.feature_extraction import create_feature_extractor
    model.eval()
    names = layer_names(model)
    # A module's name (layer4, a Sequential traced through) stands for its
    # last node, as create_feature_extractor takes it.
    modules = graph_modules(model, names)
    if layer not in names and layer not in modules:
        close = difflib.get_close_matches(layer, list(dict.fromkeys(names + modules)), n=6, cutoff=0.5)
        top = list(dict.fromkeys([n for n in names if "." not in n] + [n for n in modules if "." not in n]))
        sys.exit(f"export_backbone: {model_name} has no layer {layer!r}"
                 + (f"; close: {', '.join(close)}" if close else "")
                 + f"\n  top-level layers: {', '.join(top)}\n  all {len(names)} names: --list-layers")
    return LayerOutput(create_feature_extractor(model, return_nodes={layer: "out"}).eval())


def load_weights_file(model, path, args, weights_enum):
    """Loads a state_dict file you trained into model. Training scripts save
    {"state_dict": ...} or {"model": ...} wrappers and DDP's "module."
    prefixes: both are unwrapped. The classifier is removed on export, so its
    keys may be missing or of another shape (a model fine-tuned to 7
    classes: fc is [7, 512]); any other mismatch is an error naming keys."""
    if not os.path.isfile(path):
        names = ", ".join(dict.fromkeys(["DEFAULT"] + list(weights_enum.__members__ if weights_enum else [])))
        sys.exit(f"export_backbone: --weights {path}: no such file (and not a weights name of {args.model}: "
                 f"{names}; or none for random weights)")
    try:
        sd = torch.load(path, map_location="cpu")
    except Exception as e:  # pickle, zip and torch errors alike
        sys.exit(f"export_backbone: --weights {path}: not a file torch.load reads ({type(e).__name__}: {e})")
    for key in ("state_dict", "model", "model_state_dict", "net"):
        if isinstance(sd, dict) and isinstance(sd.get(key), (dict, torch.nn.Module)):
            sd = sd[key]
            break
    if isinstance(sd, torch.nn.Module):
        sd = sd.state_dict()
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        sys.exit(f"export_backbone: --weights {path}: holds {type(sd).__name__}, not a state_dict (a dict of "
                 "tensors, as model.state_dict() gives)")
    # Prefixes of wrappers: DDP's module., Lightning's model., torch.compile's _orig_mod.
    stripped = True
    while sd and stripped:
        stripped = False
        for prefix in ("module.", "model.", "_orig_mod."):
            if all(k.startswith(prefix) for k in sd):
                sd = {k[len(prefix):]: v for k, v in sd.items()}
                stripped = True
    own = model.state_dict()
    head = last_linear(model)
    if head is not None and args.layer and (args.layer == head or args.layer.startswith(head + ".")
                                            or head.startswith(args.layer + ".")):
        # The exported layer is (or holds) the classifier: its weights are needed.
        w_key = head + ".weight"
        if w_key in sd and w_key in model.state_dict() and sd[w_key].shape != model.state_dict()[w_key].shape:
            sys.exit(f"export_backbone: --layer {args.layer} holds the classifier ({head}), which {path} has for "
                     f"{sd[w_key].shape[0]} classes where torchvision's {args.model} has "
                     f"{model.state_dict()[w_key].shape[0]}: export a layer before it (--list-layers), or the "
                     "model without its classifier (no --layer)")
        head = None
    in_head = lambda k: head is not None and k.startswith(head + ".")
    dropped = [k for k in sd if in_head(k) and (k not in own or own[k].shape != sd[k].shape)]
    sd = {k: v for k, v in sd.items() if k not in dropped}
    wrong = [f"{k} {list(sd[k].shape)} (the model's: {list(own[k].shape)})"
             for k in sd if k in own and own[k].shape != sd[k].shape]
    missing = [k for k in own if k not in sd and not in_head(k)]
    unexpected = [k for k in sd if k not in own]
    if wrong or missing or unexpected:
        parts = [f"{len(v)} {what} ({', '.join(v[:4])}{', ...' if len(v) > 4 else ''})"
                 for what, v in (("of another shape", wrong), ("missing", missing), ("not in the model", unexpected))
                 if v]
        sys.exit(f"export_backbone: --weights {path} does not fit torchvision's {args.model}: keys "
                 + "; ".join(parts) + ". Is it another model's (or another version's) state_dict?")
    model.load_state_dict(sd, strict=False)
    if dropped or any(in_head(k) and k not in sd for k in own):
        print(f"export_backbone: {path}: the classifier ({head}) is removed on export, so its weights there "
              "were not needed", file=sys.stderr)


def torchvision_model(args):
    import torchvision
    from torchvision import models
    weights_enum = None
    try:
        weights_enum = models.get_model_weights(args.model)
    except (ValueError, AttributeError, KeyError):
        pass
    w = "none" if args.list_layers else args.weights  # the names need no weights
    named = w == "DEFAULT" or (weights_enum is not None and w in weights_enum.__members__)
    if w.lower() == "none" or not named:
        model = models.get_model(args.model, weights=None)
        if w.lower() != "none":
            load_weights_file(model, w, args, weights_enum)
        ref = weights_enum.DEFAULT if weights_enum is not None else None
    else:
        if weights_enum is None:
            sys.exit(f"export_backbone: torchvision publishes no weights for {args.model}: give a state_dict "
                     "file (--weights FILE) or --weights none")
        try:
            model = models.get_model(args.model, weights=w)  # downloads
        except OSError as e:  # urllib's URLError is an OSError: no network, a proxy, a refused host
            ref = weights_enum[w] if w != "DEFAULT" else weights_enum.DEFAULT
            cache = os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(ref.url))
            sys.exit(f"export_backbone: could not download the {w} weights of {args.model} ({e}). Without "
                     f"internet: fetch {ref.url} elsewhere and put it at {cache} (torch's cache, where this "
                     "looks first), or give a state_dict file (--weights FILE), or --weights none (random "
                     "weights) to try the path")
        ref = weights_enum[w] if w != "DEFAULT" else weights_enum.DEFAULT
    # Preprocessing: from the weights' own eval transform when the model has
    # published weights (no download needed to read it), else ImageNet defaults.
    size, resize, mean, std, interp = 224, 256, IMAGENET_MEAN, IMAGENET_STD, "bilinear"
    if ref is not None:
        t = ref.transforms()
        size = int(t.crop_size[0])
        resize = int(t.resize_size[0])
        mean, std, interp = list(t.mean), list(t.std), interp_name(t.interpolation)
    if args.list_layers:
        print_layers(model)
        sys.exit(0)
    prov = {"source": f"torchvision {torchvision.__version__} models.{args.model}", "weights": w}
    if args.layer:
        model = truncate_at(model, args.layer, args.model)
        prov["layer"] = args.layer
    else:
        prov["classifier_removed"] = strip_last_linear(model)
    return model, size, resize, mean, std, interp, prov


def timm_model(args):
    if args.weights != "DEFAULT":
        sys.exit(f"export_backbone: --weights {args.weights} is for torchvision models; with --source timm use "
                 "--pretrained (timm's own weights), or load your checkpoint into a timm model and save it as "
                 "TorchScript yourself")
    import timm
    import timm.data
    # With --layer the head stays: the named layer may be in it.
    model = timm.create_model(args.model, pretrained=args.pretrained and not args.list_layers,
                              **({} if args.layer or args.list_layers else {"num_classes": 0}))
    if hasattr(timm.data, "resolve_model_data_config"):  # timm >= 0.9
        cfg = timm.data.resolve_model_data_config(model)
    else:
        cfg = timm.data.resolve_data_config({}, model=model)
    size = int(cfg["input_size"][-1])
    resize = int(math.floor(size / cfg.get("crop_pct", 0.875)))
    if args.list_layers:
        print_layers(model)
        sys.exit(0)
    prov = {"source": f"timm {timm.__version__} {args.model}", "weights": "pretrained" if args.pretrained else "random"}
    if args.layer:
        model = truncate_at(model, args.layer, args.model)
        prov["layer"] = args.layer
    else:
        prov["classifier_removed"] = "num_classes=0"
    return (model, size, resize, list(cfg["mean"]), list(cfg["std"]), interp_name(cfg.get("interpolation", "bicubic")),
            prov)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="torchvision model name (resnet50, vit_b_16, ...) or timm name with --source timm")
    ap.add_argument("--out", help="output TorchScript file (.pt); the sidecar is written beside it")
    ap.add_argument("--layer", help="export the output of this layer (module path or graph node, e.g. avgpool, "
                                    "classifier.3), flattened to [B, D], instead of the model without its classifier")
    ap.add_argument("--list-layers", action="store_true", help="print the names --layer takes, and exit")
    ap.add_argument("--source", choices=["torchvision", "timm"], default="torchvision")
    ap.add_argument("--weights", default="DEFAULT",
                    help="torchvision: DEFAULT, a weights name (IMAGENET1K_V2), a state_dict file you trained (a "
                         "final nn.Linear classifier may have any number of classes: it is removed), or none (random)")
    ap.add_argument("--pretrained", action="store_true", help="timm: load pretrained weights (downloads)")
    ap.add_argument("--input-size", type=int, help="override the input side (square)")
    ap.add_argument("--resize", type=int, help="override the shorter side before the centre crop")
    ap.add_argument("--script", action="store_true", help="torch.jit.script instead of trace")
    ap.add_argument("--seed", type=int, default=0, help="seed for random weights")
    args = ap.parse_args()
    if not args.out and not args.list_layers:
        ap.error("--out is required")

    torch.manual_seed(args.seed)
    if args.source == "torchvision":
        model, size, resize, mean, std, interp, prov = torchvision_model(args)
    else:
        model, size, resize, mean, std, interp, prov = timm_model(args)
    if args.input_size:
        size = args.input_size
        resize = args.resize or int(math.floor(size / 0.875))
    if args.resize:
        resize = args.resize
    model.eval()
    example = torch.randn(2, 3, size, size)
    with torch.no_grad():
        eager = model(example)
        ts = torch.jit.script(model) if args.script else torch.jit.trace(model, example)
        ts = torch.jit.freeze(ts) if not args.script else ts
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    torch.jit.save(ts, args.out)

    # Check the saved file: same output as the eager model, of a usable shape.
    loaded = torch.jit.load(args.out).eval()
    with torch.no_grad():
        out = loaded(example)
    if not isinstance(out, torch.Tensor) or out.dim() not in (2, 4):
        sys.exit(f"export_backbone: {args.model} without its classifier returns "
                 f"{type(out).__name__} {tuple(getattr(out, 'shape', ()))}; distclust needs [B, D] or [B, C, H, W]")
    err = (out - eager).abs().max().item() / max(eager.abs().max().item(), 1e-30)
    if err > 1e-4:
        sys.exit(f"export_backbone: the TorchScript model differs from the eager one by {err:.2e} (relative)")
    dim = int(out.shape[1])
    if args.layer:
        with torch.no_grad():
            prov["layer_shape"] = list(model.extractor(example)["out"].shape[1:])
    sidecar = {"input_size": [size, size], "resize": resize, "mean": mean, "std": std, "interpolation": interp,
               "output_dim": dim, "output_shape": list(out.shape[1:]), **prov,
               "exported_by": "distclust tools/export_backbone.py", "torch": torch.__version__}
    json_path = os.path.splitext(args.out)[0] + ".json"
    with open(json_path, "w") as f:
        json.dump(sidecar, f, indent=1)
    layer = f"layer {args.layer} {prov['layer_shape']} flattened, " if args.layer else ""
    print(f"export_backbone: wrote {args.out} ({'scripted' if args.script else 'traced'}, input 3 x {size} x {size}, "
          f"{layer}output {list(out.shape[1:])} -> D = {dim}) and {json_path} (resize {resize}, {interp})")


if __name__ == "__main__":
    main()
