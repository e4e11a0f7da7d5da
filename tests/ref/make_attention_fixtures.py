#!/usr/bin/env python3
"""Writes the attention-map and token fixtures for tests/unit/test_attention.c.

For each case, DIR/attention/<case>/: model.safetensors (vitc metadata, seeded random weights),
input.npy (N x 3 x H x W) and, computed in float64 with the reference ViT (vit_ref.py):
  last_heads.npy   N x heads x gh x gw  the last block's attention per head (class token's query row
                                         over the patch keys; no class token: mean over patch queries)
  last_mean.npy    N x gh x gw          the same averaged over the heads
  rollout_mean.npy N x gh x gw          attention rollout (Abnar & Zuidema 2020) of the head-mean
  rollout_head.npy N x gh x gw          rollout of head ROLLOUT_HEAD's attention alone
  tokens.npy       N x T x D            the final tokens (norm(x); the raw stream for avg pool / fc_norm)
  features.npy     N x D                pooled features
DIR/attention/manifest.txt lists the cases.

Usage: make_attention_fixtures.py --out DIR
"""
import argparse
import os

import torch

from make_model_fixtures import vitc_metadata
from vit_ref import Cfg, RefViT, randomize, save_npy, write_safetensors

ROLLOUT_HEAD = 1

# name: (config, batch, (H, W), seed)
CASES = {
    # class token + 2 registers (the prefix skipped), token pool, a non-square input (position
    # embeddings resampled)
    "cls_regs": (Cfg(dim=64, depth=3, heads=4, patch=8, img_size=32, num_classes=5, reg_tokens=2), 2, (48, 32), 31),
    # class + distillation token
    "cls_dist": (Cfg(dim=64, depth=2, heads=2, patch=8, img_size=32, num_classes=4, dist_token=True), 1, (32, 32), 32),
    # no class token, avg pool (fc_norm): the mean over the patch queries
    "nocls_avg": (Cfg(dim=64, depth=2, heads=2, patch=8, img_size=32, num_classes=3, class_token=False,
                      global_pool="avg"), 2, (32, 40), 33),
}


def attention_probs(attn, x):
    """The softmax probabilities of an Attn module on its input x (B x T x D): B x heads x T x T."""
    c = attn.c
    B, T, D = x.shape
    hd = D // c.heads
    qkv = attn.qkv(x).reshape(B, T, 3, c.heads, hd).permute(2, 0, 3, 1, 4)
    q, k = qkv[0], qkv[1]
    if c.qk_norm:
        q, k = attn.q_norm(q), attn.k_norm(k)
    return ((q * hd ** -0.5) @ k.transpose(-2, -1)).softmax(dim=-1)


def make_case(out, name, spec):
    c, batch, (H, W), seed = spec
    d = os.path.join(out, "attention", name)
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(seed)
    model = RefViT(c)
    randomize(model, seed)
    model = model.double().eval()
    g = torch.Generator().manual_seed(2000 + seed)
    x = torch.randn(batch, c.in_chans, H, W, generator=g, dtype=torch.float64)
    atts = []
    hooks = [blk.attn.register_forward_hook(lambda mod, inp, outp: atts.append(attention_probs(mod, inp[0])))
             for blk in model.blocks]
    with torch.no_grad():
        _, feats = model(x)
        xf = model.forward_features(x)
    for h in hooks:
        h.remove()
    atts = atts[:c.depth]  # the first forward's
    tokens = xf if c.global_pool == "avg" else model.norm(xf)
    gh, gw, P = H // c.patch, W // c.patch, c.prefix
    T = P + gh * gw
    eye = torch.eye(T, dtype=torch.float64)

    def query_rows(m):  # m: ... x T x T -> ... x N: class row, or the mean of the patch rows
        rows = m[..., 0, :] if c.class_token else m[..., P:, :].mean(dim=-2)
        return rows[..., P:]

    last = atts[-1]  # B x heads x T x T
    last_heads = query_rows(last).reshape(batch, c.heads, gh, gw)
    last_mean = query_rows(last.mean(dim=1)).reshape(batch, gh, gw)

    def rollout(per_block):  # list of B x T x T
        R = eye.expand(batch, T, T)
        for A in per_block:
            Ap = A + eye
            Ap = Ap / Ap.sum(dim=-1, keepdim=True)
            R = Ap @ R
        return query_rows(R).reshape(batch, gh, gw)

    roll_mean = rollout([a.mean(dim=1) for a in atts])
    roll_head = rollout([a[:, ROLLOUT_HEAD] for a in atts])
    write_safetensors(os.path.join(d, "model.safetensors"), model.state_dict(), vitc_metadata(c, name))
    for fn, t in [("input", x), ("last_heads", last_heads), ("last_mean", last_mean), ("rollout_mean", roll_mean),
                  ("rollout_head", roll_head), ("tokens", tokens), ("features", feats)]:
        save_npy(os.path.join(d, fn + ".npy"), t)
    return name


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(2)
    names = [make_case(a.out, n, s) for n, s in CASES.items()]
    with open(os.path.join(a.out, "attention", "manifest.txt"), "w") as f:
        f.write("\n".join(names) + "\n")
    print(f"attention fixtures: {len(names)} cases in {a.out}/attention (rollout head {ROLLOUT_HEAD})")


if __name__ == "__main__":
    main()
