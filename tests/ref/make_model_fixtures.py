#!/usr/bin/env python3
"""Writes the model parity fixtures for vitc's C tests.

For each case: DIR/models/<case>/model.safetensors (timm, Hugging Face or vitc names, seeded random
weights), optional config.json / preprocessor_config.json, input.npy (N x 3 x H x W), and the
PyTorch reference outputs computed in float64: logits.npy, features.npy (pooled, pre-head) and
blocks.npy (the residual stream after each block, depth x N x T x D). DIR/models/manifest.txt
lists "case heads_override" lines for test_model.c.

Usage: make_model_fixtures.py --out DIR [--only CASE]
"""
import argparse
import json
import os

import torch

from vit_ref import Cfg, RefViT, randomize, save_npy, to_hf_state_dict, write_safetensors

IMAGENET = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])

# name: (config, batch, input (H, W) or None for the model's size, seed, format, heads override)
CASES = {
    # the complete ViT-Ti/16: 12 blocks, 1000 classes, timm names, no config (inferred)
    "vit_tiny_patch16_224": (Cfg(dim=192, depth=12, heads=3, num_classes=1000), 2, None, 1, "timm", 0),
    # DeiT distilled: dist token, two heads averaged
    "deit_distilled": (Cfg(dim=192, depth=3, heads=3, num_classes=10, dist_token=True), 2, None, 2, "timm", 0),
    # registers + LayerScale + avg pool / fc_norm + no_embed_class
    "regs_ls_avg": (Cfg(dim=128, depth=3, heads=2, num_classes=7, reg_tokens=4, layer_scale=True,
                        global_pool="avg", no_embed_class=True), 3, None, 3, "timm", 0),
    # no class token, avg pool
    "nocls_avg": (Cfg(dim=128, depth=2, heads=2, num_classes=5, class_token=False, global_pool="avg"),
                  2, None, 4, "timm", 0),
    # qk_norm + pre_norm, no qkv bias; vitc metadata carries heads=4 (not dim/64)
    "qknorm_prenorm": (Cfg(dim=128, depth=3, heads=4, num_classes=6, qk_norm=True, pre_norm=True,
                           qkv_bias=False), 2, None, 5, "vitc", 0),
    # the same kind of model given as plain timm, with the heads passed as an override
    "heads_override": (Cfg(dim=128, depth=2, heads=8, num_classes=4), 1, None, 6, "timm", 8),
    # patch 32 at 384
    "patch32_384": (Cfg(dim=192, depth=2, heads=3, patch=32, img_size=384, num_classes=20), 2, None, 7,
                    "timm", 0),
    # a 224 checkpoint run at another (non-square) size: position embeddings resampled
    "resample_288x160": (Cfg(dim=192, depth=2, heads=3, num_classes=10), 2, (288, 160), 8, "timm", 0),
    "resample_384": (Cfg(dim=192, depth=2, heads=3, num_classes=10, reg_tokens=2), 1, (384, 384), 9,
                     "timm", 0),
    # overlapping patches (kernel 8 at stride 4, zero padding 2), run at another non-square size
    "overlap_k8": (Cfg(dim=64, depth=2, heads=2, patch=4, patch_kernel=8, img_size=28, num_classes=10,
                       global_pool="avg"), 2, (36, 20), 15, "vitc", 0),
    # half-precision checkpoints, converted to f32 at load
    "f16_weights": (Cfg(dim=128, depth=2, heads=2, num_classes=8), 2, None, 13, "timm-f16", 0),
    "bf16_weights": (Cfg(dim=128, depth=2, heads=2, num_classes=8, layer_scale=True), 2, None, 14, "timm-bf16", 0),
    # DeiT III (timm deit3_*): LayerScale, position embeddings on the patches only (no_embed_class),
    # the class token's head; at its size and resampled to another
    "deit3_small": (Cfg(dim=192, depth=2, heads=3, num_classes=10, layer_scale=True, no_embed_class=True), 2, None,
                    16, "timm", 0),
    "deit3_small_256x192": (Cfg(dim=192, depth=2, heads=3, num_classes=10, layer_scale=True, no_embed_class=True), 1,
                            (256, 192), 17, "timm", 0),
    # Hugging Face ViTForImageClassification with config.json, layer_norm_eps 1e-12
    "hf_vit": (Cfg(dim=192, depth=3, heads=3, num_classes=5, ln_eps=1e-12), 2, None, 10, "hf", 0),
    # Hugging Face DeiTForImageClassificationWithTeacher
    "hf_deit_teacher": (Cfg(dim=192, depth=2, heads=3, num_classes=5, dist_token=True, ln_eps=1e-12), 2,
                        None, 11, "hf-deit", 0),
    # Hugging Face DeiTForImageClassification (classifier on the class token only)
    "hf_deit": (Cfg(dim=192, depth=2, heads=3, num_classes=5, dist_token=True, dist_average=False,
                    ln_eps=1e-12), 2, None, 12, "hf-deit", 0),
}


def hf_config(c, model_type, arch):
    return {
        "architectures": [arch],
        "model_type": model_type,
        "hidden_size": c.dim,
        "num_hidden_layers": c.depth,
        "num_attention_heads": c.heads,
        "intermediate_size": int(c.dim * c.mlp_ratio),
        "hidden_act": "gelu",
        "layer_norm_eps": c.ln_eps,
        "image_size": c.img_size,
        "patch_size": c.patch,
        "num_channels": c.in_chans,
        "qkv_bias": c.qkv_bias,
        "id2label": {str(i): f"class_{i}" for i in range(c.num_classes)},
        "label2id": {f"class_{i}": i for i in range(c.num_classes)},
    }


def vitc_metadata(c, name):
    cfg = {
        "name": name, "dim": c.dim, "depth": c.depth, "heads": c.heads, "mlp_dim": int(c.dim * c.mlp_ratio),
        "patch_size": c.patch, "image_size": c.img_size, "in_chans": c.in_chans, "num_classes": c.num_classes,
        "class_token": c.class_token, "dist_token": c.dist_token, "reg_tokens": c.reg_tokens,
        "no_embed_class": c.no_embed_class, "pre_norm": c.pre_norm, "qkv_bias": c.qkv_bias,
        "qk_norm": c.qk_norm, "layer_scale": c.layer_scale, "pool": c.global_pool, "ln_eps": c.ln_eps,
    }
    if c.patch_kernel:
        cfg["patch_kernel"] = c.patch_kernel
    if c.global_pool == "map":
        cfg.update(pool="avg", fc_norm=0, map_head=1)
    if getattr(c, "rel_pos_bias", False):
        cfg.update(family="beit", rel_pos_bias=1)
    if c.global_pool == "avg" and getattr(c, "rel_pos_bias", False):
        cfg["fc_norm"] = 1
    if c.act != "gelu":
        cfg["act"] = c.act
    if c.mlp != "mlp":
        cfg["mlp"] = c.mlp
    pre = {"size": c.img_size, "crop_pct": 0.875, "interpolation": "bicubic", "mean": IMAGENET[0],
           "std": IMAGENET[1], "squash": False}
    labels = [f"label {i}" for i in range(c.num_classes)]
    return {"format": "vitc", "vitc.config": json.dumps(cfg), "vitc.preprocess": json.dumps(pre),
            "vitc.labels": json.dumps(labels)}


def make_case(out, name, spec):
    c, batch, size, seed, fmt, heads = spec
    d = os.path.join(out, "models", name)
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(seed)
    model = RefViT(c)
    randomize(model, seed)
    if fmt in ("timm-f16", "timm-bf16"):  # the reference uses the weights as stored
        with torch.no_grad():
            for p in model.parameters():
                if fmt == "timm-f16":
                    p.copy_(p.half().float())
                else:
                    p.copy_((p.view(torch.int32) & -65536).view(torch.float32))
    model = model.double().eval()
    H, W = size or (c.img_size, c.img_size)
    g = torch.Generator().manual_seed(1000 + seed)
    x = torch.randn(batch, c.in_chans, H, W, generator=g, dtype=torch.float64)
    blocks = []
    with torch.no_grad():
        logits, feats = model(x, blocks)
    weights = path = os.path.join(d, "model.safetensors")
    if fmt == "timm":
        write_safetensors(path, model.state_dict())
    elif fmt in ("timm-f16", "timm-bf16"):
        write_safetensors(path, model.state_dict(), dtype=fmt[5:].upper())
    elif fmt == "vitc":
        write_safetensors(path, model.state_dict(), vitc_metadata(c, name))
    elif fmt == "hf":
        write_safetensors(path, to_hf_state_dict(model, "vit"))
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(hf_config(c, "vit", "ViTForImageClassification"), f, indent=2)
        with open(os.path.join(d, "preprocessor_config.json"), "w") as f:
            json.dump({"do_resize": True, "size": {"height": 224, "width": 224}, "resample": 2,
                       "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
                       "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
                       "image_processor_type": "ViTImageProcessor"}, f, indent=2)
    elif fmt == "hf-deit":
        arch = "DeiTForImageClassificationWithTeacher" if c.dist_average else "DeiTForImageClassification"
        write_safetensors(path, to_hf_state_dict(model, "deit"))
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(hf_config(c, "deit", arch), f, indent=2)
        with open(os.path.join(d, "preprocessor_config.json"), "w") as f:
            json.dump({"do_resize": True, "size": {"height": 256, "width": 256}, "resample": 3,
                       "do_center_crop": True, "crop_size": {"height": 224, "width": 224},
                       "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
                       "image_mean": IMAGENET[0], "image_std": IMAGENET[1],
                       "image_processor_type": "DeiTImageProcessor"}, f, indent=2)
    del weights
    save_npy(os.path.join(d, "input.npy"), x)
    save_npy(os.path.join(d, "logits.npy"), logits)
    save_npy(os.path.join(d, "features.npy"), feats)
    save_npy(os.path.join(d, "blocks.npy"), torch.stack(blocks))
    return f"{name} {heads}"


# The committed quick-path set (tests/fixtures/small): the same code paths at toy sizes.
SMALL = {
    "small_timm": (Cfg(dim=32, depth=2, heads=2, patch=8, img_size=32, num_classes=10, reg_tokens=2,
                       layer_scale=True, qk_norm=True), 2, (48, 32), 21, "timm", 2),
    "small_deit": (Cfg(dim=32, depth=2, heads=2, patch=8, img_size=32, num_classes=10, dist_token=True), 2,
                   None, 22, "timm", 2),
    "small_hf": (Cfg(dim=32, depth=2, heads=2, patch=8, img_size=32, num_classes=5, ln_eps=1e-12), 2, None, 23,
                 "hf", 0),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--only")
    ap.add_argument("--small", action="store_true", help="write the small committed set instead")
    a = ap.parse_args()
    torch.set_num_threads(2)
    cases = SMALL if a.small else CASES
    lines = [make_case(a.out, n, s) for n, s in cases.items() if not a.only or a.only == n]
    if not a.only:
        with open(os.path.join(a.out, "models", "manifest.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
    print(f"model fixtures: {len(lines)} cases in {a.out}/models")


if __name__ == "__main__":
    main()
