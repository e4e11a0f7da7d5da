"""A reference Vision Transformer in PyTorch, written for vitc's parity tests.

It follows timm's VisionTransformer (and VisionTransformerDistilled) computation and parameter
names exactly, as documented in ../shared/REFERENCE.md, so its state dict is a timm-style
checkpoint. Hugging Face names are produced by `to_hf_state_dict`. timm itself is not packaged
for Debian, hence this re-statement; it uses only torch.nn.functional primitives.
"""
import json
import math
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Cfg:
    def __init__(self, **kw):
        self.dim = 192
        self.depth = 2
        self.heads = 3
        self.mlp_ratio = 4.0
        self.patch = 16
        self.patch_kernel = None  # overlapping patches: a larger kernel at stride `patch`, padding (k - patch) // 2
        self.img_size = 224
        self.in_chans = 3
        self.num_classes = 10
        self.class_token = True
        self.dist_token = False
        self.reg_tokens = 0
        self.no_embed_class = False
        self.pre_norm = False
        self.qkv_bias = True
        self.qk_norm = False
        self.layer_scale = False
        self.global_pool = "token"  # or "avg", or "map" (SigLIP's attention-pooling head after the final norm)
        self.ln_eps = 1e-6
        self.dist_average = True  # DeiT distilled: mean of both heads (HF DeiTForImageClassification: cls only)
        self.act = "gelu"  # or "quick_gelu" (CLIP), "gelu_tanh" (SigLIP)
        self.mlp = "mlp"  # or "swiglu" (DINOv2 giant: fc1 gives gate | value, silu(gate) * value)
        self.rel_pos_bias = False  # BEiT: a relative position bias table per block (class token, trained grid)
        for k, v in kw.items():
            assert hasattr(self, k), k
            setattr(self, k, v)

    @property
    def prefix(self):
        return int(self.class_token) + int(self.dist_token) + self.reg_tokens

    @property
    def grid(self):
        return self.img_size // self.patch


class LayerScale(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))


def beit_rel_index(gh, gw):
    """BEiT's relative_position_index (T x T, T = 1 + gh gw), as HF's BeitRelativePositionBias builds it."""
    coords = torch.stack(torch.meshgrid(torch.arange(gh), torch.arange(gw), indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0).contiguous()
    rel[:, :, 0] += gh - 1
    rel[:, :, 1] += gw - 1
    rel[:, :, 0] *= 2 * gw - 1
    R = (2 * gh - 1) * (2 * gw - 1) + 3
    idx = torch.zeros(gh * gw + 1, gh * gw + 1, dtype=torch.long)
    idx[1:, 1:] = rel.sum(-1)
    idx[0, 0:] = R - 3
    idx[0:, 0] = R - 2
    idx[0, 0] = R - 1
    return idx


class Attn(nn.Module):
    def __init__(self, c):
        super().__init__()
        hd = c.dim // c.heads
        self.qkv = nn.Linear(c.dim, 3 * c.dim, bias=c.qkv_bias)
        if c.qk_norm:
            self.q_norm = nn.LayerNorm(hd, eps=c.ln_eps)
            self.k_norm = nn.LayerNorm(hd, eps=c.ln_eps)
        self.proj = nn.Linear(c.dim, c.dim)
        self.c = c
        if c.rel_pos_bias:  # BEiT: (2 g - 1)^2 + 3 rows x heads; q and v biases only (the k third kept at 0)
            g = c.grid
            self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * g - 1) ** 2 + 3, c.heads))
            self.register_buffer("rel_index", beit_rel_index(g, g), persistent=False)
            if c.qkv_bias:
                keep = torch.ones(3 * c.dim)
                keep[c.dim:2 * c.dim] = 0
                self.qkv.bias.register_hook(lambda grad: grad * keep.to(grad.dtype))

    def forward(self, x):
        c = self.c
        B, T, D = x.shape
        hd = D // c.heads
        qkv = self.qkv(x).reshape(B, T, 3, c.heads, hd).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        if c.qk_norm:
            q, k = self.q_norm(q), self.k_norm(k)
        att = (q * hd ** -0.5) @ k.transpose(-2, -1)
        if c.rel_pos_bias:
            rel = self.relative_position_bias_table[self.rel_index.view(-1)].view(T, T, c.heads)
            att = att + rel.permute(2, 0, 1).unsqueeze(0)
        att = att.softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, D)
        return self.proj(y)


class Mlp(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = int(c.dim * c.mlp_ratio)
        self.fc1 = nn.Linear(c.dim, 2 * h if c.mlp == "swiglu" else h)
        self.fc2 = nn.Linear(h, c.dim)
        self.c = c

    def forward(self, x):
        h = self.fc1(x)
        if self.c.mlp == "swiglu":
            gate, value = h.chunk(2, dim=-1)
            return self.fc2(F.silu(gate) * value)
        if self.c.act == "quick_gelu":
            return self.fc2(h * torch.sigmoid(1.702 * h))
        if self.c.act == "gelu_tanh":
            return self.fc2(F.gelu(h, approximate="tanh"))
        return self.fc2(F.gelu(h))  # exact (erf) GELU


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.norm1 = nn.LayerNorm(c.dim, eps=c.ln_eps)
        self.attn = Attn(c)
        self.norm2 = nn.LayerNorm(c.dim, eps=c.ln_eps)
        self.mlp = Mlp(c)
        if c.layer_scale:
            self.ls1 = LayerScale(c.dim)
            self.ls2 = LayerScale(c.dim)
        self.c = c

    def forward(self, x):
        a = self.attn(self.norm1(x))
        if self.c.layer_scale:
            a = a * self.ls1.gamma
        x = x + a
        m = self.mlp(self.norm2(x))
        if self.c.layer_scale:
            m = m * self.ls2.gamma
        return x + m


class PatchEmbed(nn.Module):
    def __init__(self, c):
        super().__init__()
        k = c.patch_kernel or c.patch
        self.proj = nn.Conv2d(c.in_chans, c.dim, k, c.patch, padding=(k - c.patch) // 2, bias=not c.pre_norm)


class MapHead(nn.Module):
    """SigLIP's attention-pooling head (HF SiglipMultiheadAttentionPoolingHead): a learned probe attends
    over the tokens with nn.MultiheadAttention, then y = a + MLP(LayerNorm(a)); vitc's names."""

    def __init__(self, c):
        super().__init__()
        h = int(c.dim * c.mlp_ratio)
        self.probe = nn.Parameter(torch.zeros(1, 1, c.dim))
        self.attention = nn.MultiheadAttention(c.dim, c.heads, batch_first=True)
        self.layernorm = nn.LayerNorm(c.dim, eps=c.ln_eps)
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(c.dim, h)
        self.mlp.fc2 = nn.Linear(h, c.dim)
        self.c = c

    def forward(self, x):
        a = self.attention(self.probe.expand(x.shape[0], -1, -1), x, x, need_weights=False)[0]
        h = self.mlp.fc1(self.layernorm(a))
        if self.c.act == "gelu_tanh":
            h = F.gelu(h, approximate="tanh")
        elif self.c.act == "quick_gelu":
            h = h * torch.sigmoid(1.702 * h)
        else:
            h = F.gelu(h)
        return (a + self.mlp.fc2(h))[:, 0]


class RefViT(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.patch_embed = PatchEmbed(c)
        if c.class_token:
            self.cls_token = nn.Parameter(torch.zeros(1, 1, c.dim))
        if c.dist_token:
            self.dist_token = nn.Parameter(torch.zeros(1, 1, c.dim))
        if c.reg_tokens:
            self.reg_token = nn.Parameter(torch.zeros(1, c.reg_tokens, c.dim))
        n = c.grid * c.grid + (0 if c.no_embed_class else c.prefix)
        self.pos_embed = nn.Parameter(torch.zeros(1, n, c.dim))
        if c.pre_norm:
            self.norm_pre = nn.LayerNorm(c.dim, eps=c.ln_eps)
        self.blocks = nn.ModuleList([Block(c) for _ in range(c.depth)])
        if c.global_pool == "avg":
            self.fc_norm = nn.LayerNorm(c.dim, eps=c.ln_eps)
        else:
            self.norm = nn.LayerNorm(c.dim, eps=c.ln_eps)
        if c.global_pool == "map":
            self.map_head = MapHead(c)
        if c.num_classes:
            self.head = nn.Linear(c.dim, c.num_classes)
            if c.dist_token:
                self.head_dist = nn.Linear(c.dim, c.num_classes)

    def pos_embed_for(self, gh, gw):
        """timm's resample_abs_pos_embed: bicubic, antialias, prefix rows untouched."""
        c = self.c
        pe = self.pos_embed
        keep = 0 if c.no_embed_class else c.prefix
        if (gh, gw) == (c.grid, c.grid):
            return pe
        prefix, grid = pe[:, :keep], pe[:, keep:]
        grid = grid.reshape(1, c.grid, c.grid, -1).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(gh, gw), mode="bicubic", antialias=True, align_corners=False)
        grid = grid.permute(0, 2, 3, 1).reshape(1, gh * gw, -1)
        return torch.cat([prefix, grid], dim=1)

    def forward_features(self, img, collect=None):
        c = self.c
        B, _, H, W = img.shape
        x = self.patch_embed.proj(img)
        gh, gw = x.shape[2], x.shape[3]
        x = x.flatten(2).transpose(1, 2)
        pe = self.pos_embed_for(gh, gw)
        toks = []
        if c.class_token:
            toks.append(self.cls_token.expand(B, -1, -1))
        if c.dist_token:
            toks.append(self.dist_token.expand(B, -1, -1))
        if c.reg_tokens:
            toks.append(self.reg_token.expand(B, -1, -1))
        if c.no_embed_class:
            x = torch.cat(toks + [x + pe], dim=1)
        else:
            x = torch.cat(toks + [x], dim=1) + pe
        if c.pre_norm:
            x = self.norm_pre(x)
        for blk in self.blocks:
            x = blk(x)
            if collect is not None:
                collect.append(x)
        return x

    def pooled(self, x):
        c = self.c
        if c.global_pool == "avg":
            return self.fc_norm(x[:, c.prefix:].mean(dim=1))
        x = self.norm(x)
        if c.global_pool == "map":
            return self.map_head(x)
        if c.dist_token and c.dist_average:
            return (x[:, 0] + x[:, 1]) / 2
        return x[:, 0]

    def forward(self, img, collect=None):
        c = self.c
        x = self.forward_features(img, collect)
        feats = self.pooled(x)
        if not c.num_classes:
            return None, feats
        if c.global_pool != "avg" and c.dist_token and c.dist_average:
            xn = self.norm(x)
            logits = (self.head(xn[:, 0]) + self.head_dist(xn[:, 1])) / 2
        elif c.global_pool not in ("avg", "map"):
            logits = self.head(self.norm(x)[:, 0])
        else:
            logits = self.head(feats)
        return logits, feats


def randomize(model, seed, head_std=0.5):
    """Seeded random weights with non-trivial norms and biases, logits of order 1."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("gamma"):
                p.copy_(0.5 + 0.5 * torch.rand(p.shape, generator=g))
            elif "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
            elif name.startswith("head"):
                p.copy_(head_std / math.sqrt(p.shape[1]) * torch.randn(p.shape, generator=g) * 4)
            elif p.dim() >= 2 and name.endswith("weight"):
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(fan_in))
            else:  # tokens, position embeddings
                p.copy_(0.1 * torch.randn(p.shape, generator=g))


def to_hf_state_dict(model, prefix="vit"):
    """Hugging Face ViT/DeiT names; qkv split into query/key/value."""
    c = model.c
    sd = {k: v.detach() for k, v in model.state_dict().items()}
    out = {}
    e = f"{prefix}.embeddings"
    out[f"{e}.cls_token"] = sd["cls_token"]
    if c.dist_token:
        out[f"{e}.distillation_token"] = sd["dist_token"]
    out[f"{e}.position_embeddings"] = sd["pos_embed"]
    out[f"{e}.patch_embeddings.projection.weight"] = sd["patch_embed.proj.weight"]
    out[f"{e}.patch_embeddings.projection.bias"] = sd["patch_embed.proj.bias"]
    D = c.dim
    for i in range(c.depth):
        b, l = f"blocks.{i}", f"{prefix}.encoder.layer.{i}"
        w, bb = sd[f"{b}.attn.qkv.weight"], sd[f"{b}.attn.qkv.bias"]
        for j, nm in enumerate(["query", "key", "value"]):
            out[f"{l}.attention.attention.{nm}.weight"] = w[j * D:(j + 1) * D]
            out[f"{l}.attention.attention.{nm}.bias"] = bb[j * D:(j + 1) * D]
        pairs = [("attn.proj", "attention.output.dense"), ("mlp.fc1", "intermediate.dense"),
                 ("mlp.fc2", "output.dense"), ("norm1", "layernorm_before"), ("norm2", "layernorm_after")]
        for a, h in pairs:
            out[f"{l}.{h}.weight"] = sd[f"{b}.{a}.weight"]
            out[f"{l}.{h}.bias"] = sd[f"{b}.{a}.bias"]
    out[f"{prefix}.layernorm.weight"] = sd["norm.weight"]
    out[f"{prefix}.layernorm.bias"] = sd["norm.bias"]
    if c.dist_token and c.dist_average:
        names = [("head", "cls_classifier"), ("head_dist", "distillation_classifier")]
    else:
        names = [("head", "classifier")]
    for a, h in names:
        out[f"{h}.weight"] = sd[f"{a}.weight"]
        out[f"{h}.bias"] = sd[f"{a}.bias"]
    return out


def write_safetensors(path, tensors, metadata=None, dtype="F32"):
    """safetensors writer (the format is a u64 header length, a JSON header, raw data).
    dtype F32, F16 or BF16 (BF16 by truncation of the f32 bits: write tensors already rounded)."""
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name].detach().cpu().numpy().astype(np.float32))
        if dtype == "F16":
            a = a.astype(np.float16)
        elif dtype == "BF16":
            a = (a.view(np.uint32) >> 16).astype(np.uint16)
        b = a.tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def save_npy(path, t):
    np.save(path, np.ascontiguousarray(t.detach().cpu().numpy().astype(np.float32)))
