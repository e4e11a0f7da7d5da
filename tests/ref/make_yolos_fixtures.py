#!/usr/bin/env python3
"""Reference fixtures for Hugging Face YOLOS (YolosForObjectDetection), restated here in float64 from
the model's definition: the class token, detection tokens after the patch tokens, position embeddings
[cls, grid, detection] at config.image_size = (height, width), the grid part resampled to the input's
grid with F.interpolate(mode="bicubic", align_corners=False), optional mid position embeddings added
after every layer but the last, the final LayerNorm, and two 3-layer MLP heads (ReLU between; class
scores num_labels + 1 with "no object" last; boxes sigmoid (cx, cy, w, h)). post_process_object_detection
is restated too (softmax, max over real classes, threshold, corners scaled by the original size).

Writes DIR/yolos/<case>/{model.safetensors (HF names), config.json, preprocessor_config.json,
input.npy, logits.npy, boxes.npy, blocks.npy} and, for the post-processing, post.json.
Usage: make_yolos_fixtures.py --out DIR"""
import argparse
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

from vit_ref import write_safetensors


def layer_norm(x, w, b, eps):
    return F.layer_norm(x, (x.shape[-1],), w, b, eps)


def interp_grid(rows, gh0, gw0, gh, gw):
    """rows (..., gh0 * gw0, D) -> (..., gh * gw, D) as YOLOS' Interpolate*PositionEmbeddings."""
    lead, D = rows.shape[:-2], rows.shape[-1]
    g = rows.reshape(-1, gh0, gw0, D).permute(0, 3, 1, 2)
    g = F.interpolate(g, size=(gh, gw), mode="bicubic", align_corners=False)
    return g.permute(0, 2, 3, 1).reshape(*lead, gh * gw, D)


def resample_pos(pe, Q, gh0, gw0, gh, gw):
    """pe (..., 1 + gh0*gw0 + Q, D): cls row, grid rows resampled, detection rows kept."""
    return torch.cat([pe[..., :1, :], interp_grid(pe[..., 1:-Q, :], gh0, gw0, gh, gw), pe[..., -Q:, :]], dim=-2)


def yolos_forward(W, cfg, x):
    P, D, H = cfg["patch_size"], cfg["hidden_size"], cfg["num_attention_heads"]
    L, Q, eps = cfg["num_hidden_layers"], cfg["num_detection_tokens"], cfg["layer_norm_eps"]
    gh0, gw0 = cfg["image_size"][0] // P, cfg["image_size"][1] // P
    B, _, h, w = x.shape
    gh, gw = h // P, w // P
    e = F.conv2d(x, W["vit.embeddings.patch_embeddings.projection.weight"],
                 W["vit.embeddings.patch_embeddings.projection.bias"], stride=P).flatten(2).transpose(1, 2)
    t = torch.cat([W["vit.embeddings.cls_token"].expand(B, -1, -1), e,
                   W["vit.embeddings.detection_tokens"].expand(B, -1, -1)], dim=1)
    t = t + resample_pos(W["vit.embeddings.position_embeddings"], Q, gh0, gw0, gh, gw)
    mids = None
    if cfg["use_mid_position_embeddings"]:
        mids = resample_pos(W["vit.encoder.mid_position_embeddings"], Q, gh0, gw0, gh, gw)  # (L-1, 1, T, D)
    blocks = []
    hd = D // H
    for i in range(L):
        p = f"vit.encoder.layer.{i}."
        a = layer_norm(t, W[p + "layernorm_before.weight"], W[p + "layernorm_before.bias"], eps)

        def proj(name, v):
            return v @ W[p + name + ".weight"].T + W[p + name + ".bias"]
        q = proj("attention.attention.query", a).view(B, -1, H, hd).transpose(1, 2)
        k = proj("attention.attention.key", a).view(B, -1, H, hd).transpose(1, 2)
        v = proj("attention.attention.value", a).view(B, -1, H, hd).transpose(1, 2)
        att = torch.softmax(q @ k.transpose(-1, -2) * hd ** -0.5, dim=-1)
        o = (att @ v).transpose(1, 2).reshape(B, -1, D)
        t = t + proj("attention.output.dense", o)
        m = layer_norm(t, W[p + "layernorm_after.weight"], W[p + "layernorm_after.bias"], eps)
        m = F.gelu(proj("intermediate.dense", m))
        t = t + proj("output.dense", m)
        if mids is not None and i < L - 1:
            t = t + mids[i]
        blocks.append(t)
    t = layer_norm(t, W["vit.layernorm.weight"], W["vit.layernorm.bias"], eps)
    s = t[:, -Q:, :]

    def mlp(prefix, v):
        for j in range(3):
            v = v @ W[f"{prefix}.layers.{j}.weight"].T + W[f"{prefix}.layers.{j}.bias"]
            if j < 2:
                v = F.relu(v)
        return v
    return mlp("class_labels_classifier", s), mlp("bbox_predictor", s).sigmoid(), torch.stack(blocks)


def post_process(logits, boxes, threshold, sizes):
    """post_process_object_detection for each image: (label, score, [x0, y0, x1, y1]) in token order."""
    prob = torch.softmax(logits, -1)
    scores, labels = prob[..., :-1].max(-1)
    cx, cy, bw, bh = boxes.unbind(-1)
    corners = torch.stack([cx - 0.5 * bw, cy - 0.5 * bh, cx + 0.5 * bw, cy + 0.5 * bh], dim=-1)
    out = []
    for b, (h, w) in enumerate(sizes):
        c = corners[b] * torch.tensor([w, h, w, h], dtype=corners.dtype)
        keep = scores[b] > threshold
        out.append([{"label": int(l), "score": float(s), "box": [float(v) for v in bb]}
                    for l, s, bb in zip(labels[b][keep], scores[b][keep], c[keep])])
    return out


def random_weights(cfg, seed):
    g = torch.Generator().manual_seed(seed)
    D, P, L, Q = cfg["hidden_size"], cfg["patch_size"], cfg["num_hidden_layers"], cfg["num_detection_tokens"]
    Hm, C = cfg["intermediate_size"], cfg["num_labels"]
    gh0, gw0 = cfg["image_size"][0] // P, cfg["image_size"][1] // P
    T0 = 1 + gh0 * gw0 + Q

    def r(*shape, std=0.2):
        return torch.randn(*shape, generator=g, dtype=torch.float64) * std
    W = {"vit.embeddings.patch_embeddings.projection.weight": r(D, 3, P, P, std=0.1),
         "vit.embeddings.patch_embeddings.projection.bias": r(D),
         "vit.embeddings.cls_token": r(1, 1, D, std=0.5), "vit.embeddings.detection_tokens": r(1, Q, D, std=0.5),
         "vit.embeddings.position_embeddings": r(1, T0, D, std=0.5),
         "vit.layernorm.weight": 1 + r(D), "vit.layernorm.bias": r(D)}
    if cfg["use_mid_position_embeddings"]:
        W["vit.encoder.mid_position_embeddings"] = r(L - 1, 1, T0, D, std=0.3)
    for i in range(L):
        p = f"vit.encoder.layer.{i}."
        for n, (o, k) in {"attention.attention.query": (D, D), "attention.attention.key": (D, D),
                          "attention.attention.value": (D, D), "attention.output.dense": (D, D),
                          "intermediate.dense": (Hm, D), "output.dense": (D, Hm)}.items():
            W[p + n + ".weight"] = r(o, k, std=k ** -0.5)
            W[p + n + ".bias"] = r(o, std=0.05)
        for n in ("layernorm_before", "layernorm_after"):
            W[p + n + ".weight"] = 1 + r(D)
            W[p + n + ".bias"] = r(D)
    for head, out_dim in (("class_labels_classifier", C + 1), ("bbox_predictor", 4)):
        for j in range(3):
            o = out_dim if j == 2 else D
            W[f"{head}.layers.{j}.weight"] = r(o, D, std=1.5 * D ** -0.5)
            W[f"{head}.layers.{j}.bias"] = r(o, std=0.1)
    return W


def write_hf_checkpoint(d, W, cfg):
    """model.safetensors (HF names, float32), config.json and YolosImageProcessor's
    preprocessor_config.json (its defaults: shortest edge 800, longest 1333, bilinear, ImageNet)."""
    write_safetensors(os.path.join(d, "model.safetensors"), {k: v.float() for k, v in W.items()})
    cfg_file = dict(cfg)
    del cfg_file["num_labels"]  # HF derives it from id2label
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg_file, f, indent=2)
    with open(os.path.join(d, "preprocessor_config.json"), "w") as f:
        json.dump({"do_resize": True, "size": {"shortest_edge": 800, "longest_edge": 1333}, "resample": 2,
                   "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
                   "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225],
                   "image_processor_type": "YolosImageProcessor"}, f, indent=2)


CASES = {
    # name: (dim, depth, heads, patch, image_size (h, w), tokens, labels, mid, input (h, w), seed)
    "yolos_plain": (64, 2, 2, 8, (32, 48), 5, 4, False, (32, 48), 1),
    "yolos_mid_resized": (64, 3, 4, 8, (32, 48), 6, 3, True, (40, 24), 2),
    "yolos_mid_same": (48, 2, 2, 4, (16, 16), 4, 2, True, (16, 16), 3),
    "yolos_plain_down": (64, 2, 2, 8, (48, 64), 5, 4, False, (24, 40), 4),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    out = ap.parse_args().out
    names = []
    for name, (D, L, H, P, size, Q, C, mid, inp, seed) in CASES.items():
        d = os.path.join(out, "yolos", name)
        os.makedirs(d, exist_ok=True)
        cfg = {"architectures": ["YolosForObjectDetection"], "model_type": "yolos", "hidden_size": D,
               "num_hidden_layers": L, "num_attention_heads": H, "intermediate_size": 4 * D, "hidden_act": "gelu",
               "layer_norm_eps": 1e-12, "image_size": list(size), "patch_size": P, "num_channels": 3,
               "qkv_bias": True, "num_detection_tokens": Q, "use_mid_position_embeddings": mid,
               "num_labels": C, "id2label": {str(i): f"thing{i}" for i in range(C)}}
        W = random_weights(cfg, seed)
        g = torch.Generator().manual_seed(100 + seed)
        x = torch.randn(2, 3, inp[0], inp[1], generator=g, dtype=torch.float64)
        with torch.no_grad():
            logits, boxes, blocks = yolos_forward(W, cfg, x)
        write_hf_checkpoint(d, W, cfg)
        for n, t in (("input", x), ("logits", logits), ("boxes", boxes), ("blocks", blocks)):
            np.save(os.path.join(d, n + ".npy"), t.numpy().astype(np.float32))
        thr = 0.3
        sizes = [(300, 200), (64, 128)]  # an original (height, width) per image
        with open(os.path.join(d, "post.json"), "w") as f:
            json.dump({"threshold": thr, "sizes": sizes, "detections": post_process(logits, boxes, thr, sizes)}, f)
        names.append(name)
    with open(os.path.join(out, "yolos", "cases.txt"), "w") as f:
        f.write("\n".join(names) + "\n")


if __name__ == "__main__":
    main()
