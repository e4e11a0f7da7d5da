#!/usr/bin/env python3
"""Writes the model-family parity fixtures for tests/unit/test_families.c (issue 21).

A float64 restatement, in torch.nn.functional primitives, of
  - DINOv2 as Hugging Face's Dinov2Model / Dinov2WithRegistersModel compute it (LayerScale, registers after
    the class token without position embeddings, the SwiGLU MLP of Dinov2SwiGLUFFN, the final layernorm,
    pooler_output = layernorm(x)[:, 0]; position embeddings resampled with F.interpolate(size=..., mode="bicubic",
    align_corners=False) and antialias=False for Dinov2Model, antialias=True for Dinov2WithRegistersModel),
    and as timm's vit_*_patch14_reg4_dinov2 holds it (cls_token + pos_embed[:, 0] folded, no_embed_class,
    SwiGLUPacked mlp.fc1 = gate | value; resample_abs_pos_embed: antialiased bicubic);
  - CLIP's vision tower as CLIPVisionModel(WithProjection) / CLIPModel compute it (class_embedding, patch conv
    without bias, position_embedding rows, pre_layrnorm, quick_gelu or gelu, pooler_output =
    post_layernorm(x[:, 0]), image_embeds = visual_projection(pooler_output); interpolate_pos_encoding: torch's
    plain bicubic with size=);
  - SigLIP's vision tower as SiglipVisionModel computes it (patch conv with bias, no class token, position
    embeddings on the patches, gelu_pytorch_tanh, post_layernorm on every token, pooler_output = the
    attention-pooling head: nn.MultiheadAttention's kernel (F.multi_head_attention_forward) from a learned probe,
    then x + MLP(LayerNorm(x)); position embeddings at other sizes with torch's plain bicubic, size=).
  - the same CLIP and SigLIP towers under timm's names (vit_*_clip_quickgelu_*: the projection as a zero-bias
    head; vit_*_siglip_*: attn_pool.latent / q / kv / proj / norm / mlp) with the config.json timm's hub files
    carry (architecture, pretrained_cfg), position embeddings resampled as timm does (antialiased bicubic).
Seeded random weights, written under HF names with config.json (and timm names where timm has the family).
Each case: DIR/families/<case>/model.safetensors, config.json, input.npy, blocks.npy (depth x N x T x D, the
residual stream after each block in vitc's token order [class, registers, patches]), features.npy (the pooled
output), cls_mean.npy (DINOv2: [class token, mean patch token] of the final normalized tokens) or embeds.npy
(CLIP with a projection). Two "bad" cases miss one tensor each. DIR/families/manifest.txt lists
"case model_case family kind heads" lines (model_case: the case directory holding the weights; kind: ok, or
the missing tensor's name; heads: the --heads a timm file needs, 0 for none).

Usage: make_family_fixtures.py --out DIR
"""
import argparse
import json
import math
import os

import torch
import torch.nn.functional as F

from vit_ref import beit_rel_index, save_npy, write_safetensors


def spec(**kw):
    s = dict(family="dinov2", dim=48, depth=2, heads=2, mlp=192, swiglu=False, patch=14, grid=4, regs=0,
             act="gelu", proj=0, eps=1e-6, interp="torch", seed=1, classes=0, abs_pos=True, shared_rel=False,
             mean_pool=False)
    s.update(kw)
    return s


def make_params(s):
    """Seeded random parameters under canonical names, float64."""
    g = torch.Generator().manual_seed(s["seed"])
    D, P, L, H = s["dim"], s["patch"], s["depth"], s["mlp"]
    r = lambda *shape, std=1.0: (torch.randn(*shape, generator=g, dtype=torch.float64) * std)
    siglip, beit = s["family"] == "siglip", s["family"] == "beit"
    p = {"patch_w": r(D, 3, P, P, std=1 / math.sqrt(3 * P * P)), "cls": r(1, 1, D, std=0.5),
         "pos": r(1, (0 if siglip else 1) + s["grid"] ** 2, D, std=0.5)}
    if s["family"] in ("dinov2", "siglip", "beit"):
        p["patch_b"] = r(D, std=0.05)
    if beit and not s["abs_pos"]:
        del p["pos"]
    R = (2 * s["grid"] - 1) ** 2 + 3  # BEiT's relative position bias table rows
    if s["regs"]:
        p["reg"] = r(1, s["regs"], D, std=0.5)
    if s["family"] == "clip":
        p["pre_w"], p["pre_b"] = 1 + r(D, std=0.1), r(D, std=0.05)
    for i in range(L):
        b = f"b{i}."
        p[b + "n1w"], p[b + "n1b"] = 1 + r(D, std=0.1), r(D, std=0.05)
        p[b + "n2w"], p[b + "n2b"] = 1 + r(D, std=0.1), r(D, std=0.05)
        p[b + "qkvw"], p[b + "qkvb"] = r(3 * D, D, std=1 / math.sqrt(D)), r(3 * D, std=0.05)
        p[b + "projw"], p[b + "projb"] = r(D, D, std=1 / math.sqrt(D)), r(D, std=0.05)
        H1 = 2 * H if s["swiglu"] else H
        p[b + "fc1w"], p[b + "fc1b"] = r(H1, D, std=1 / math.sqrt(D)), r(H1, std=0.05)
        p[b + "fc2w"], p[b + "fc2b"] = r(D, H, std=1 / math.sqrt(H)), r(D, std=0.05)
        if s["family"] in ("dinov2", "beit"):
            p[b + "ls1"] = 0.5 + 0.5 * torch.rand(D, generator=g, dtype=torch.float64)
            p[b + "ls2"] = 0.5 + 0.5 * torch.rand(D, generator=g, dtype=torch.float64)
        if beit:  # q and v biases (no k bias), the block's relative position bias table
            p[b + "qkvb"][D:2 * D] = 0.0
            p[b + "rel"] = r(R, s["heads"], std=0.5) if not s["shared_rel"] or i == 0 else p["b0.rel"]
    p["norm_w"], p["norm_b"] = 1 + r(D, std=0.1), r(D, std=0.05)
    if s["classes"]:
        p["head_w"], p["head_b"] = r(s["classes"], D, std=1 / math.sqrt(D)), r(s["classes"], std=0.05)
    if s["proj"]:
        p["proj"] = r(s["proj"], D, std=1 / math.sqrt(D))
    if siglip:  # SiglipMultiheadAttentionPoolingHead
        p["probe"] = r(1, 1, D, std=0.5)
        p["in_w"], p["in_b"] = r(3 * D, D, std=1 / math.sqrt(D)), r(3 * D, std=0.05)
        p["out_w"], p["out_b"] = r(D, D, std=1 / math.sqrt(D)), r(D, std=0.05)
        p["mln_w"], p["mln_b"] = 1 + r(D, std=0.1), r(D, std=0.05)
        p["mfc1w"], p["mfc1b"] = r(H, D, std=1 / math.sqrt(D)), r(H, std=0.05)
        p["mfc2w"], p["mfc2b"] = r(D, H, std=1 / math.sqrt(H)), r(D, std=0.05)
    return p


def act(h, s):
    if s["act"] == "quick_gelu":
        return h * torch.sigmoid(1.702 * h)
    if s["act"] == "gelu_pytorch_tanh":
        return F.gelu(h, approximate="tanh")
    return F.gelu(h)


def hf_rel_table(table, g, gh, gw):
    """HF BeitRelativePositionBias at a gh x gw window: the (2 g - 1)^2 offsets viewed as an image (HF's
    (old_width, old_height) order), F.interpolate bilinear (align_corners=False) to (2 gh - 1, 2 gw - 1), the
    three class-token rows appended unchanged."""
    H, old = table.shape[1], 2 * g - 1
    sub = table[:-3].reshape(1, old, old, H).permute(0, 3, 1, 2)
    sub = F.interpolate(sub, size=(2 * gh - 1, 2 * gw - 1), mode="bilinear")
    return torch.cat([sub.permute(0, 2, 3, 1).reshape(-1, H), table[-3:]])


def timm_rel_positions(src, dst):
    """timm resize_rel_pos_bias_table's sample positions of src trained offsets for dst new ones: a geometric
    progression whose ratio is bisected in [1.01, 1.5] (the last midpoint kept); float32 as torch.tensor makes
    them."""
    left, right, q = 1.01, 1.5, None
    while right - left > 1e-6:
        q = (left + right) / 2.0
        if (1.0 - q ** (src // 2)) / (1.0 - q) > dst // 2:
            right = q
        else:
            left = q
    dis, cur = [], 1
    for i in range(src // 2):
        dis.append(cur)
        cur += q ** (i + 1)
    return torch.tensor([-d for d in reversed(dis)] + [0] + dis, dtype=torch.float32).double()


def grid_linear(points, values, queries):
    """timm's RegularGridInterpolator (linear on a rectilinear grid, clamped at the ends) at the outer grid of
    the query vectors, restated in float64."""
    (py, px), (qy, qx) = points, queries
    def bracket(p, x):
        r = torch.bucketize(x, p).clamp(max=p.shape[0] - 1)
        l = (r - 1).clamp(0, p.shape[0] - 1)
        dl, dr = (x - p[l]).clamp(min=0), (p[r] - x).clamp(min=0)
        both = (dl == 0) & (dr == 0)
        dl, dr = torch.where(both, 1.0, dl), torch.where(both, 1.0, dr)
        return l, r, dl, dr
    yl, yr, ay, by = bracket(py, qy)
    xl, xr, ax, bx = bracket(px, qx)
    v = lambda iy, ix: values[iy][:, ix]
    num = (v(yl, xl) * by[:, None] * bx[None] + v(yl, xr) * by[:, None] * ax[None] +
           v(yr, xl) * ay[:, None] * bx[None] + v(yr, xr) * ay[:, None] * ax[None])
    return num / ((ay + by)[:, None] * (ax + bx)[None])


def timm_rel_table(table, g, gh, gw):
    """timm's checkpoint_filter_fn for BEiT built at another size: resize_rel_pos_bias_table without scipy."""
    H, src, dh, dw = table.shape[1], 2 * g - 1, 2 * gh - 1, 2 * gw - 1
    py, px = timm_rel_positions(src, dh), timm_rel_positions(src, dw)
    qy = torch.arange(-(dh // 2), dh // 2 + 1, dtype=torch.float64)
    qx = torch.arange(-(dw // 2), dw // 2 + 1, dtype=torch.float64)
    cols = [grid_linear((py, px), table[:-3, h].reshape(src, src), (qy, qx)).reshape(-1, 1) for h in range(H)]
    return torch.cat([torch.cat(cols, dim=1), table[-3:]])


def resample_rel_table(table, g, gh, gw, interp):
    return hf_rel_table(table, g, gh, gw) if interp == "torch" else timm_rel_table(table, g, gh, gw)


def forward(p, s, img):
    D, heads, eps, L = s["dim"], s["heads"], s["eps"], s["depth"]
    B = img.shape[0]
    x = F.conv2d(img, p["patch_w"], p.get("patch_b"), stride=s["patch"])
    gh, gw = x.shape[2], x.shape[3]
    x = x.flatten(2).transpose(1, 2)
    pos = p.get("pos")
    g, keep = s["grid"], 0 if s["family"] == "siglip" else 1
    if pos is None:
        pos = torch.zeros(1, 1 + gh * gw, D, dtype=torch.float64)
    elif (gh, gw) != (g, g):
        grid = pos[:, keep:].reshape(1, g, g, D).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(gh, gw), mode="bicubic", align_corners=False,
                             antialias=s["interp"] == "timm")
        pos = torch.cat([pos[:, :keep], grid.permute(0, 2, 3, 1).reshape(1, gh * gw, D)], dim=1)
    if keep:
        x = torch.cat([p["cls"].expand(B, -1, -1), x], dim=1)
    x = x + pos
    if s["regs"]:
        x = torch.cat([x[:, :1], p["reg"].expand(B, -1, -1), x[:, 1:]], dim=1)
    if s["family"] == "clip":
        x = F.layer_norm(x, (D,), p["pre_w"], p["pre_b"], eps)
    T, hd = x.shape[1], D // heads
    blocks = []
    for i in range(L):
        b = f"b{i}."
        h = F.layer_norm(x, (D,), p[b + "n1w"], p[b + "n1b"], eps)
        qkv = F.linear(h, p[b + "qkvw"], p[b + "qkvb"]).reshape(B, T, 3, heads, hd).permute(2, 0, 3, 1, 4)
        att = (qkv[0] * hd ** -0.5) @ qkv[1].transpose(-2, -1)
        if s["family"] == "beit":
            idx = beit_rel_index(gh, gw)
            table = p[b + "rel"] if (gh, gw) == (g, g) else resample_rel_table(p[b + "rel"], g, gh, gw, s["interp"])
            att = att + table[idx.view(-1)].view(T, T, heads).permute(2, 0, 1).unsqueeze(0)
        att = att.softmax(-1)
        a = F.linear((att @ qkv[2]).transpose(1, 2).reshape(B, T, D), p[b + "projw"], p[b + "projb"])
        if s["family"] in ("dinov2", "beit"):
            a = a * p[b + "ls1"]
        x = x + a
        h = F.linear(F.layer_norm(x, (D,), p[b + "n2w"], p[b + "n2b"], eps), p[b + "fc1w"], p[b + "fc1b"])
        if s["swiglu"]:
            x1, x2 = h.chunk(2, dim=-1)
            h = F.silu(x1) * x2
        else:
            h = act(h, s)
        m = F.linear(h, p[b + "fc2w"], p[b + "fc2b"])
        if s["family"] in ("dinov2", "beit"):
            m = m * p[b + "ls2"]
        x = x + m
        blocks.append(x)
    out = {"blocks": torch.stack(blocks)}
    if s["family"] == "siglip":  # last_hidden_state = post_layernorm(x); pooler_output = head(last_hidden_state)
        xn = F.layer_norm(x, (D,), p["norm_w"], p["norm_b"], eps)
        probe = p["probe"].expand(B, -1, -1).transpose(0, 1)  # (1, B, D): nn.MultiheadAttention's own kernel
        kv = xn.transpose(0, 1)
        a = F.multi_head_attention_forward(probe, kv, kv, D, heads, p["in_w"], p["in_b"], None, None, False, 0.0,
                                           p["out_w"], p["out_b"], training=False, need_weights=False)[0]
        a = a.transpose(0, 1)
        m = F.linear(act(F.linear(F.layer_norm(a, (D,), p["mln_w"], p["mln_b"], eps), p["mfc1w"], p["mfc1b"]), s),
                     p["mfc2w"], p["mfc2b"])
        out["features"] = (a + m)[:, 0]
    elif s["family"] == "beit":  # mean pooling: fc_norm (HF pooler.layernorm) of the mean patch token
        if s["mean_pool"]:
            out["features"] = F.layer_norm(x[:, 1:].mean(dim=1), (D,), p["norm_w"], p["norm_b"], eps)
        else:
            out["features"] = F.layer_norm(x, (D,), p["norm_w"], p["norm_b"], eps)[:, 0]
        if s["classes"]:
            out["logits"] = F.linear(out["features"], p["head_w"], p["head_b"])
    elif s["family"] == "dinov2":
        xn = F.layer_norm(x, (D,), p["norm_w"], p["norm_b"], eps)
        out["features"] = xn[:, 0]  # Dinov2Model's pooler_output
        out["cls_mean"] = torch.cat([xn[:, 0], xn[:, 1 + s["regs"]:].mean(dim=1)], dim=1)
    else:
        out["features"] = F.layer_norm(x[:, 0], (D,), p["norm_w"], p["norm_b"], eps)  # pooler_output
        if s["proj"]:
            out["embeds"] = F.linear(out["features"], p["proj"])  # image_embeds
    return out


def hf_dinov2(p, s):
    D, o = s["dim"], {}
    o["embeddings.cls_token"] = p["cls"]
    o["embeddings.mask_token"] = torch.zeros(1, D, dtype=torch.float64)  # ignored at inference
    o["embeddings.position_embeddings"] = p["pos"]
    o["embeddings.patch_embeddings.projection.weight"] = p["patch_w"]
    o["embeddings.patch_embeddings.projection.bias"] = p["patch_b"]
    if s["regs"]:
        o["embeddings.register_tokens"] = p["reg"]
    for i in range(s["depth"]):
        b, l = f"b{i}.", f"encoder.layer.{i}."
        for j, nm in enumerate(["query", "key", "value"]):
            o[l + f"attention.attention.{nm}.weight"] = p[b + "qkvw"][j * D:(j + 1) * D]
            o[l + f"attention.attention.{nm}.bias"] = p[b + "qkvb"][j * D:(j + 1) * D]
        o[l + "attention.output.dense.weight"], o[l + "attention.output.dense.bias"] = p[b + "projw"], p[b + "projb"]
        o[l + "norm1.weight"], o[l + "norm1.bias"] = p[b + "n1w"], p[b + "n1b"]
        o[l + "norm2.weight"], o[l + "norm2.bias"] = p[b + "n2w"], p[b + "n2b"]
        o[l + "layer_scale1.lambda1"], o[l + "layer_scale2.lambda1"] = p[b + "ls1"], p[b + "ls2"]
        fc1, fc2 = ("mlp.weights_in", "mlp.weights_out") if s["swiglu"] else ("mlp.fc1", "mlp.fc2")
        o[l + fc1 + ".weight"], o[l + fc1 + ".bias"] = p[b + "fc1w"], p[b + "fc1b"]
        o[l + fc2 + ".weight"], o[l + fc2 + ".bias"] = p[b + "fc2w"], p[b + "fc2b"]
    o["layernorm.weight"], o["layernorm.bias"] = p["norm_w"], p["norm_b"]
    return o


def timm_dinov2(p, s):
    """timm's names after its _convert_dinov2: registers -> no_embed_class, cls + pos[:, 0]."""
    o = {"patch_embed.proj.weight": p["patch_w"], "patch_embed.proj.bias": p["patch_b"]}
    if s["regs"]:
        o["cls_token"] = p["cls"] + p["pos"][:, :1]
        o["pos_embed"] = p["pos"][:, 1:]
        o["reg_token"] = p["reg"]
    else:
        o["cls_token"], o["pos_embed"] = p["cls"], p["pos"]
    for i in range(s["depth"]):
        b, l = f"b{i}.", f"blocks.{i}."
        o[l + "norm1.weight"], o[l + "norm1.bias"] = p[b + "n1w"], p[b + "n1b"]
        o[l + "attn.qkv.weight"], o[l + "attn.qkv.bias"] = p[b + "qkvw"], p[b + "qkvb"]
        o[l + "attn.proj.weight"], o[l + "attn.proj.bias"] = p[b + "projw"], p[b + "projb"]
        o[l + "ls1.gamma"], o[l + "ls2.gamma"] = p[b + "ls1"], p[b + "ls2"]
        o[l + "norm2.weight"], o[l + "norm2.bias"] = p[b + "n2w"], p[b + "n2b"]
        o[l + "mlp.fc1.weight"], o[l + "mlp.fc1.bias"] = p[b + "fc1w"], p[b + "fc1b"]
        o[l + "mlp.fc2.weight"], o[l + "mlp.fc2.bias"] = p[b + "fc2w"], p[b + "fc2b"]
    o["norm.weight"], o["norm.bias"] = p["norm_w"], p["norm_b"]
    return o


def timm_blocks(p, s, o):
    for i in range(s["depth"]):
        b, l = f"b{i}.", f"blocks.{i}."
        o[l + "norm1.weight"], o[l + "norm1.bias"] = p[b + "n1w"], p[b + "n1b"]
        o[l + "attn.qkv.weight"], o[l + "attn.qkv.bias"] = p[b + "qkvw"], p[b + "qkvb"]
        o[l + "attn.proj.weight"], o[l + "attn.proj.bias"] = p[b + "projw"], p[b + "projb"]
        o[l + "norm2.weight"], o[l + "norm2.bias"] = p[b + "n2w"], p[b + "n2b"]
        o[l + "mlp.fc1.weight"], o[l + "mlp.fc1.bias"] = p[b + "fc1w"], p[b + "fc1b"]
        o[l + "mlp.fc2.weight"], o[l + "mlp.fc2.bias"] = p[b + "fc2w"], p[b + "fc2b"]
    o["norm.weight"], o["norm.bias"] = p["norm_w"], p["norm_b"]
    return o


def timm_clip(p, s):
    """timm's vit_*_clip_* after its _convert_openai_clip: norm_pre, patch conv without bias, the visual
    projection as head.weight with a zero head.bias (the model's 'classes' are the embedding)."""
    o = {"patch_embed.proj.weight": p["patch_w"], "cls_token": p["cls"], "pos_embed": p["pos"],
         "norm_pre.weight": p["pre_w"], "norm_pre.bias": p["pre_b"]}
    timm_blocks(p, s, o)
    o["head.weight"] = p["proj"]
    o["head.bias"] = torch.zeros(s["proj"], dtype=torch.float64)
    return o


def timm_siglip(p, s):
    """timm's vit_*_siglip_*: no class token, pos_embed on the patches, AttentionPoolLatent as attn_pool.*
    (latent, q, kv = the key and value rows of nn.MultiheadAttention's in_proj, proj, norm, mlp)."""
    D = s["dim"]
    o = {"patch_embed.proj.weight": p["patch_w"], "patch_embed.proj.bias": p["patch_b"], "pos_embed": p["pos"]}
    timm_blocks(p, s, o)
    a = "attn_pool."
    o[a + "latent"] = p["probe"]
    o[a + "q.weight"], o[a + "q.bias"] = p["in_w"][:D], p["in_b"][:D]
    o[a + "kv.weight"], o[a + "kv.bias"] = p["in_w"][D:], p["in_b"][D:]
    o[a + "proj.weight"], o[a + "proj.bias"] = p["out_w"], p["out_b"]
    o[a + "norm.weight"], o[a + "norm.bias"] = p["mln_w"], p["mln_b"]
    o[a + "mlp.fc1.weight"], o[a + "mlp.fc1.bias"] = p["mfc1w"], p["mfc1b"]
    o[a + "mlp.fc2.weight"], o[a + "mlp.fc2.bias"] = p["mfc2w"], p["mfc2b"]
    return o


def timm_config(s, arch):
    """The config.json of a timm model on the Hugging Face hub: its architecture and pretrained_cfg."""
    mean = [0.48145466, 0.4578275, 0.40821073] if s["family"] == "clip" else [0.5, 0.5, 0.5]
    std = [0.26862954, 0.26130258, 0.27577711] if s["family"] == "clip" else [0.5, 0.5, 0.5]
    return {"architecture": arch, "num_classes": s["proj"], "num_features": s["dim"],
            "pretrained_cfg": {"tag": "test", "input_size": [3, s["grid"] * s["patch"], s["grid"] * s["patch"]],
                               "interpolation": "bicubic", "crop_pct": 1.0 if s["family"] == "siglip" else 0.9,
                               "crop_mode": "center", "mean": mean, "std": std, "num_classes": s["proj"]}}


def timm_beit(p, s):
    """timm's Beit: q_bias / v_bias, blocks.i.attn.relative_position_bias_table (and its index buffer), gamma_1 /
    gamma_2, fc_norm with mean pooling, no pos_embed (use_abs_pos_emb False)."""
    D = s["dim"]
    o = {"patch_embed.proj.weight": p["patch_w"], "patch_embed.proj.bias": p["patch_b"], "cls_token": p["cls"]}
    if "pos" in p:
        o["pos_embed"] = p["pos"]
    timm_blocks(p, s, o)
    for i in range(s["depth"]):
        b, l = f"b{i}.", f"blocks.{i}."
        del o[l + "attn.qkv.bias"]
        o[l + "attn.q_bias"], o[l + "attn.v_bias"] = p[b + "qkvb"][:D], p[b + "qkvb"][2 * D:]
        o[l + "attn.relative_position_bias_table"] = p[b + "rel"]
        o[l + "attn.relative_position_index"] = beit_rel_index(s["grid"], s["grid"]).to(torch.float64)
        o[l + "gamma_1"], o[l + "gamma_2"] = p[b + "ls1"], p[b + "ls2"]
    if s["mean_pool"]:
        o["fc_norm.weight"], o["fc_norm.bias"] = o.pop("norm.weight"), o.pop("norm.bias")
    if s["classes"]:
        o["head.weight"], o["head.bias"] = p["head_w"], p["head_b"]
    return o


def hf_beit(p, s, prefix):
    """HF's BeitForImageClassification / Data2VecVisionModel: query / key (no bias) / value, lambda_1 / lambda_2,
    the relative position bias per layer or shared (encoder.relative_position_bias), pooler.layernorm."""
    D, o, v = s["dim"], {}, prefix
    o[v + "embeddings.cls_token"] = p["cls"]
    o[v + "embeddings.mask_token"] = torch.zeros(1, 1, D, dtype=torch.float64)
    o[v + "embeddings.patch_embeddings.projection.weight"] = p["patch_w"]
    o[v + "embeddings.patch_embeddings.projection.bias"] = p["patch_b"]
    if "pos" in p:
        o[v + "embeddings.position_embeddings"] = p["pos"]
    rel = "relative_position_bias.relative_position_bias_table"
    if s["shared_rel"]:
        o[v + "encoder." + rel] = p["b0.rel"]
    for i in range(s["depth"]):
        b, l = f"b{i}.", f"{v}encoder.layer.{i}."
        for j, nm in enumerate(["query", "key", "value"]):
            o[l + f"attention.attention.{nm}.weight"] = p[b + "qkvw"][j * D:(j + 1) * D]
            if nm != "key":
                o[l + f"attention.attention.{nm}.bias"] = p[b + "qkvb"][j * D:(j + 1) * D]
        if not s["shared_rel"]:
            o[l + "attention.attention." + rel] = p[b + "rel"]
        o[l + "attention.output.dense.weight"], o[l + "attention.output.dense.bias"] = p[b + "projw"], p[b + "projb"]
        o[l + "layernorm_before.weight"], o[l + "layernorm_before.bias"] = p[b + "n1w"], p[b + "n1b"]
        o[l + "layernorm_after.weight"], o[l + "layernorm_after.bias"] = p[b + "n2w"], p[b + "n2b"]
        o[l + "intermediate.dense.weight"], o[l + "intermediate.dense.bias"] = p[b + "fc1w"], p[b + "fc1b"]
        o[l + "output.dense.weight"], o[l + "output.dense.bias"] = p[b + "fc2w"], p[b + "fc2b"]
        o[l + "lambda_1"], o[l + "lambda_2"] = p[b + "ls1"], p[b + "ls2"]
    n = "pooler.layernorm." if s["mean_pool"] else "layernorm."
    o[v + n + "weight"], o[v + n + "bias"] = p["norm_w"], p["norm_b"]
    if s["classes"]:
        o["classifier.weight"], o["classifier.bias"] = p["head_w"], p["head_b"]
    return o


def beit_config(s, arch, model_type):
    c = {"architectures": [arch], "model_type": model_type, "hidden_size": s["dim"], "num_hidden_layers": s["depth"],
         "num_attention_heads": s["heads"], "intermediate_size": s["mlp"], "hidden_act": "gelu",
         "layer_norm_eps": s["eps"], "image_size": s["grid"] * s["patch"], "patch_size": s["patch"],
         "num_channels": 3, "use_mask_token": True, "use_absolute_position_embeddings": s["abs_pos"],
         "use_relative_position_bias": not s["shared_rel"], "use_shared_relative_position_bias": s["shared_rel"],
         "layer_scale_init_value": 0.1, "use_mean_pooling": s["mean_pool"]}
    if s["classes"]:
        c["id2label"] = {str(i): f"class{i}" for i in range(s["classes"])}
        c["label2id"] = {f"class{i}": i for i in range(s["classes"])}
    return c


def hf_clip(p, s, with_text=False):
    D, o, v = s["dim"], {}, "vision_model."
    o[v + "embeddings.class_embedding"] = p["cls"].reshape(D)
    o[v + "embeddings.patch_embedding.weight"] = p["patch_w"]
    o[v + "embeddings.position_embedding.weight"] = p["pos"].reshape(-1, D)
    o[v + "pre_layrnorm.weight"], o[v + "pre_layrnorm.bias"] = p["pre_w"], p["pre_b"]
    for i in range(s["depth"]):
        b, l = f"b{i}.", f"{v}encoder.layers.{i}."
        for j, nm in enumerate(["q_proj", "k_proj", "v_proj"]):
            o[l + f"self_attn.{nm}.weight"] = p[b + "qkvw"][j * D:(j + 1) * D]
            o[l + f"self_attn.{nm}.bias"] = p[b + "qkvb"][j * D:(j + 1) * D]
        o[l + "self_attn.out_proj.weight"], o[l + "self_attn.out_proj.bias"] = p[b + "projw"], p[b + "projb"]
        o[l + "layer_norm1.weight"], o[l + "layer_norm1.bias"] = p[b + "n1w"], p[b + "n1b"]
        o[l + "layer_norm2.weight"], o[l + "layer_norm2.bias"] = p[b + "n2w"], p[b + "n2b"]
        o[l + "mlp.fc1.weight"], o[l + "mlp.fc1.bias"] = p[b + "fc1w"], p[b + "fc1b"]
        o[l + "mlp.fc2.weight"], o[l + "mlp.fc2.bias"] = p[b + "fc2w"], p[b + "fc2b"]
    o[v + "post_layernorm.weight"], o[v + "post_layernorm.bias"] = p["norm_w"], p["norm_b"]
    if s["proj"]:
        o["visual_projection.weight"] = p["proj"]
    if with_text:  # CLIPModel's text half and scale: not the vision tower's, ignored by vitc
        o["text_model.embeddings.token_embedding.weight"] = torch.zeros(16, 8, dtype=torch.float64)
        o["text_projection.weight"] = torch.zeros(s["proj"], 8, dtype=torch.float64)
        o["logit_scale"] = torch.tensor([2.6592], dtype=torch.float64)
    return o


def hf_siglip(p, s):
    D, o, v = s["dim"], {}, "vision_model."
    o[v + "embeddings.patch_embedding.weight"], o[v + "embeddings.patch_embedding.bias"] = p["patch_w"], p["patch_b"]
    o[v + "embeddings.position_embedding.weight"] = p["pos"].reshape(-1, D)
    for i in range(s["depth"]):
        b, l = f"b{i}.", f"{v}encoder.layers.{i}."
        for j, nm in enumerate(["q_proj", "k_proj", "v_proj"]):
            o[l + f"self_attn.{nm}.weight"] = p[b + "qkvw"][j * D:(j + 1) * D]
            o[l + f"self_attn.{nm}.bias"] = p[b + "qkvb"][j * D:(j + 1) * D]
        o[l + "self_attn.out_proj.weight"], o[l + "self_attn.out_proj.bias"] = p[b + "projw"], p[b + "projb"]
        o[l + "layer_norm1.weight"], o[l + "layer_norm1.bias"] = p[b + "n1w"], p[b + "n1b"]
        o[l + "layer_norm2.weight"], o[l + "layer_norm2.bias"] = p[b + "n2w"], p[b + "n2b"]
        o[l + "mlp.fc1.weight"], o[l + "mlp.fc1.bias"] = p[b + "fc1w"], p[b + "fc1b"]
        o[l + "mlp.fc2.weight"], o[l + "mlp.fc2.bias"] = p[b + "fc2w"], p[b + "fc2b"]
    o[v + "post_layernorm.weight"], o[v + "post_layernorm.bias"] = p["norm_w"], p["norm_b"]
    h = v + "head."
    o[h + "probe"] = p["probe"]
    o[h + "attention.in_proj_weight"], o[h + "attention.in_proj_bias"] = p["in_w"], p["in_b"]
    o[h + "attention.out_proj.weight"], o[h + "attention.out_proj.bias"] = p["out_w"], p["out_b"]
    o[h + "layernorm.weight"], o[h + "layernorm.bias"] = p["mln_w"], p["mln_b"]
    o[h + "mlp.fc1.weight"], o[h + "mlp.fc1.bias"] = p["mfc1w"], p["mfc1b"]
    o[h + "mlp.fc2.weight"], o[h + "mlp.fc2.bias"] = p["mfc2w"], p["mfc2b"]
    return o


def dinov2_config(s, arch):
    c = {"architectures": [arch], "model_type": "dinov2_with_registers" if s["regs"] else "dinov2",
         "hidden_size": s["dim"], "num_hidden_layers": s["depth"], "num_attention_heads": s["heads"],
         "mlp_ratio": 4, "hidden_act": "gelu", "layer_norm_eps": s["eps"], "image_size": s["grid"] * s["patch"],
         "patch_size": s["patch"], "num_channels": 3, "qkv_bias": True, "layerscale_value": 1.0,
         "use_swiglu_ffn": s["swiglu"], "drop_path_rate": 0.0}
    if s["regs"]:
        c["num_register_tokens"] = s["regs"]
    return c


def clip_vision_config(s):
    return {"hidden_size": s["dim"], "intermediate_size": s["mlp"], "projection_dim": s["proj"] or 512,
            "num_hidden_layers": s["depth"], "num_attention_heads": s["heads"], "num_channels": 3,
            "image_size": s["grid"] * s["patch"], "patch_size": s["patch"], "hidden_act": s["act"],
            "layer_norm_eps": s["eps"]}


DINO = spec(seed=31)
DINO_REG = spec(seed=32, regs=4, swiglu=True, mlp=128, interp="timm")  # HF's SwiGLU width rule: 192 -> 128
CLIP_PROJ = spec(family="clip", dim=32, heads=2, mlp=128, patch=8, grid=4, act="quick_gelu", proj=24, eps=1e-5,
                 seed=41)
SIGLIP = spec(family="siglip", dim=32, heads=2, mlp=96, patch=8, grid=4, act="gelu_pytorch_tanh", eps=1e-6, seed=51)
CLIP_TIMM = spec(family="clip", dim=32, heads=2, mlp=128, patch=8, grid=4, act="quick_gelu", proj=24, eps=1e-5,
                 interp="timm", seed=43)  # timm's resample_abs_pos_embed: antialiased bicubic
SIGLIP_TIMM = spec(family="siglip", dim=32, heads=2, mlp=96, patch=8, grid=4, act="gelu_pytorch_tanh", eps=1e-6,
                   interp="timm", seed=52)
BEIT = spec(family="beit", dim=32, heads=4, mlp=96, patch=8, grid=4, eps=1e-6, classes=7, abs_pos=False,
            mean_pool=True, interp="timm", seed=71)  # timm's table resizing at other sizes
BEIT_HF = spec(family="beit", dim=48, heads=3, mlp=128, patch=8, grid=3, eps=1e-12, classes=5, abs_pos=False,
               mean_pool=True, seed=72)
DATA2VEC = spec(family="beit", dim=32, heads=2, mlp=64, patch=8, grid=4, eps=1e-12, abs_pos=True, shared_rel=True,
                mean_pool=False, seed=73)
BAD_BEIT = spec(family="beit", dim=16, heads=2, mlp=32, patch=8, grid=2, eps=1e-12, classes=3, abs_pos=False,
                mean_pool=True, seed=74)
CLIP_GELU = spec(family="clip", dim=64, heads=4, mlp=160, patch=8, grid=5, act="gelu", proj=40, eps=1e-5, seed=42)

# the refused checkpoints: tiny models of each family
TINY = dict(dim=16, heads=1, mlp=32, patch=8, grid=2)
BAD_DINO = spec(seed=61, **TINY)
BAD_CLIP = spec(family="clip", act="quick_gelu", proj=8, eps=1e-5, seed=62, **TINY)
BAD_SIGLIP = spec(family="siglip", act="gelu_pytorch_tanh", seed=63, **TINY)

# name: (spec, writer, HF class or timm name, batch, input (H, W), missing tensor or None)
CASES = {
    "dinov2_hf": (DINO, "hf-dinov2", "Dinov2Model", 2, (56, 56), None),
    "dinov2_hf_70x42": (DINO, "hf-dinov2", "Dinov2Model", 2, (70, 42), None),
    "dinov2_reg_swiglu_hf": (DINO_REG, "hf-dinov2", "Dinov2WithRegistersModel", 2, (56, 56), None),
    "dinov2_reg_swiglu_hf_84x70": (DINO_REG, "hf-dinov2", "Dinov2WithRegistersModel", 2, (84, 70), None),
    "dinov2_reg_swiglu_timm": (DINO_REG, "timm", "vit_giant_patch14_reg4_dinov2", 2, (56, 56), None),
    "dinov2_reg_swiglu_timm_98x56": (DINO_REG, "timm", "vit_giant_patch14_reg4_dinov2", 1, (98, 56), None),
    "clip_proj_hf": (CLIP_PROJ, "hf-clip", "CLIPVisionModelWithProjection", 2, (32, 32), None),
    "clip_proj_hf_48x40": (CLIP_PROJ, "hf-clip", "CLIPVisionModelWithProjection", 2, (48, 40), None),
    "clip_gelu_clipmodel": (CLIP_GELU, "hf-clipmodel", "CLIPModel", 2, (40, 40), None),
    "clip_gelu_clipmodel_56x48": (CLIP_GELU, "hf-clipmodel", "CLIPModel", 1, (56, 48), None),
    "clip_quickgelu_timm": (CLIP_TIMM, "timm-clip", "vit_base_patch16_clip_quickgelu_224", 2, (32, 32), None),
    "clip_quickgelu_timm_48x40": (CLIP_TIMM, "timm-clip", "vit_base_patch16_clip_quickgelu_224", 1, (48, 40), None),
    "siglip_timm": (SIGLIP_TIMM, "timm-siglip", "vit_base_patch16_siglip_224", 2, (32, 32), None),
    "siglip_timm_40x48": (SIGLIP_TIMM, "timm-siglip", "vit_base_patch16_siglip_224", 1, (40, 48), None),
    "siglip_hf": (SIGLIP, "hf-siglip", "SiglipVisionModel", 2, (32, 32), None),
    "siglip_siglipmodel": (SIGLIP, "hf-siglipmodel", "SiglipModel", 2, (32, 32), None),
    "siglip_hf_48x40": (SIGLIP, "hf-siglip", "SiglipVisionModel", 2, (48, 40), None),
    "beit_timm": (BEIT, "timm-beit", "beit_base_patch16_224", 2, (32, 32), None),
    "beit_hf": (BEIT_HF, "hf-beit", "BeitForImageClassification", 2, (24, 24), None),
    "data2vec_shared_hf": (DATA2VEC, "hf-data2vec", "Data2VecVisionModel", 2, (32, 32), None),
    "beit_timm_48x40": (BEIT, "timm-beit", "beit_base_patch16_224", 1, (48, 40), None),
    "beit_timm_24x24": (BEIT, "timm-beit", "beit_base_patch16_224", 1, (24, 24), None),
    "beit_hf_40x32": (BEIT_HF, "hf-beit", "BeitForImageClassification", 2, (40, 32), None),
    "beit_hf_16x16": (BEIT_HF, "hf-beit", "BeitForImageClassification", 1, (16, 16), None),
    "data2vec_shared_hf_48x40": (DATA2VEC, "hf-data2vec", "Data2VecVisionModel", 1, (48, 40), None),
    "bad_beit_no_table": (BAD_BEIT, "hf-beit", "BeitForImageClassification", 1, (16, 16),
                          "beit.encoder.layer.1.attention.attention.relative_position_bias.relative_position_bias_table"),
    "bad_siglip_no_probe": (BAD_SIGLIP, "hf-siglip", "SiglipVisionModel", 1, (32, 32), "vision_model.head.probe"),
    "bad_dinov2_no_ls": (BAD_DINO, "hf-dinov2", "Dinov2Model", 1, (56, 56), "encoder.layer.1.layer_scale1.lambda1"),
    "bad_clip_no_prenorm": (BAD_CLIP, "hf-clip", "CLIPVisionModelWithProjection", 1, (32, 32),
                            "vision_model.pre_layrnorm.weight"),
}


def make_case(out, name, case, written):
    """Writes one case; a case of an already written (spec, format) model keeps only its input and outputs and
    names that model's directory in the manifest."""
    s, fmt, arch, n, (H, W), missing = case
    d = os.path.join(out, "families", name)
    os.makedirs(d, exist_ok=True)
    p = make_params(s)
    key = (json.dumps(s, sort_keys=True), fmt, missing)
    model_dir = written.setdefault(key, name)
    if fmt == "hf-dinov2":
        tensors, cfg = hf_dinov2(p, s), dinov2_config(s, arch)
    elif fmt == "timm":
        tensors, cfg = timm_dinov2(p, s), None
    elif fmt == "timm-clip":
        tensors, cfg = timm_clip(p, s), timm_config(s, arch)
    elif fmt == "timm-siglip":
        tensors, cfg = timm_siglip(p, s), timm_config(s, arch)
    elif fmt == "timm-beit":
        tensors, cfg = timm_beit(p, s), None
    elif fmt == "hf-beit":
        tensors, cfg = hf_beit(p, s, "beit."), beit_config(s, arch, "beit")
    elif fmt == "hf-data2vec":
        tensors, cfg = hf_beit(p, s, "data2vec_vision."), beit_config(s, arch, "data2vec-vision")
    elif fmt == "hf-siglip":
        tensors = hf_siglip(p, s)
        cfg = {"architectures": [arch], "model_type": "siglip_vision_model", "hidden_size": s["dim"],
               "intermediate_size": s["mlp"], "num_hidden_layers": s["depth"], "num_attention_heads": s["heads"],
               "num_channels": 3, "image_size": s["grid"] * s["patch"], "patch_size": s["patch"],
               "hidden_act": s["act"], "layer_norm_eps": s["eps"], "vision_use_head": True}
    elif fmt == "hf-siglipmodel":  # SiglipModel (SigLIP and fixed-resolution SigLIP 2): the text half ignored
        tensors = hf_siglip(p, s)
        tensors["text_model.embeddings.token_embedding.weight"] = torch.zeros(16, 8, dtype=torch.float64)
        tensors["logit_scale"] = torch.tensor([2.3], dtype=torch.float64)
        tensors["logit_bias"] = torch.tensor([-10.0], dtype=torch.float64)
        cfg = {"architectures": [arch], "model_type": "siglip", "text_config": {"hidden_size": 8},
               "vision_config": {"hidden_size": s["dim"], "intermediate_size": s["mlp"],
                                 "num_hidden_layers": s["depth"], "num_attention_heads": s["heads"],
                                 "num_channels": 3, "image_size": s["grid"] * s["patch"], "patch_size": s["patch"],
                                 "hidden_act": s["act"], "layer_norm_eps": s["eps"]}}
    elif fmt == "hf-clip":
        tensors = hf_clip(p, s)
        cfg = dict(clip_vision_config(s), architectures=[arch], model_type="clip_vision_model")
    else:  # CLIPModel: the vision settings nested under vision_config
        tensors = hf_clip(p, s, with_text=True)
        cfg = {"architectures": [arch], "model_type": "clip", "projection_dim": s["proj"],
               "vision_config": clip_vision_config(s), "text_config": {"hidden_size": 8}}
    if missing:
        del tensors[missing]
    if missing:  # refused at load: no outputs
        write_safetensors(os.path.join(d, "model.safetensors"), tensors)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
        return f"{name} {model_dir} {s['family']} {missing} 0"
    if model_dir == name:
        write_safetensors(os.path.join(d, "model.safetensors"), tensors)
        if cfg:
            with open(os.path.join(d, "config.json"), "w") as f:
                json.dump(cfg, f, indent=2)
    g = torch.Generator().manual_seed(1000 + s["seed"] + H * 7 + W)
    x = torch.randn(n, 3, H, W, generator=g, dtype=torch.float64)
    with torch.no_grad():
        r = forward(p, s, x)
    save_npy(os.path.join(d, "input.npy"), x)
    for k, v in r.items():
        save_npy(os.path.join(d, f"{k}.npy"), v)
    heads = s["heads"] if fmt.startswith("timm") else 0  # timm files do not say; real DINOv2s have dim / 64 heads
    return f"{name} {model_dir} {s['family']} {missing or 'ok'} {heads}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(2)
    written = {}
    lines = [make_case(a.out, n, c, written) for n, c in CASES.items()]
    with open(os.path.join(a.out, "families", "manifest.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"family fixtures: {len(lines)} cases in {a.out}/families")


if __name__ == "__main__":
    main()
