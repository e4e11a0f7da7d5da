#!/usr/bin/env python3
"""Writes the semantic-segmentation fixtures for vitc's C tests (tests/unit/test_seg.c).

Segmenter (Strudel et al. 2021) restated in float64 PyTorch on the reference backbone of
vit_ref.py: the backbone's final tokens (final norm applied, prefix tokens dropped), then
  linear decoder:    scores = decoder.head(patch tokens)
  mask transformer:  x = [proj_dec(patches), cls_emb]; blocks; decoder_norm; patches and classes
                     through F.linear(., proj_patch / proj_classes) (no bias), each L2-normalized;
                     masks = patches . classes^T; mask_norm (LayerNorm over the classes)
reshaped to (B, C, H/P, W/P) and F.interpolate(bilinear, align_corners=False) to the image.

For each case DIR/seg/<case>/:
  model.safetensors   seeded random weights, vitc names, vitc metadata (task "segment", head)
  input.npy, grid.npy, scores.npy, mask.npy        a batch of 3 at the model's 16 x 16
  input_ns.npy, grid_ns.npy, scores_ns.npy, mask_ns.npy   the same at 16 x 24 (position
                      embeddings resampled as timm does)
  image.npy, scores_img.npy   a 16 x 16 RGB image (H x W x 3, 0..255) and the scores of its
                      preprocessing (crop_pct 1: the identity geometry)
  train_input.npy, train_masks.npy (255: ignored), hparams.npy (make_train_fixtures.py's HP)
  train_up.npy        the upsampled scores of the training batch
  loss.npy, grads.safetensors          label smoothing HP[7] (0.1)
  loss_ls0.npy, grads_ls0.safetensors  label smoothing 0
  losses.npy, params.safetensors       ten AdamW steps as make_train_fixtures.py (no weight decay
                      for norms, biases, tokens, position embeddings and decoder.cls_emb)
DIR/seg/classifier/model.safetensors   a plain classifier (timm names) for the error paths.
DIR/seg/bilinear/<k>_{in,out,dout,din}.npy   F.interpolate (bilinear, align_corners=False) and
                      its backward for up-, down- and mixed resampling.
DIR/seg/xent/{logits,labels,loss,grad}.npy   F.cross_entropy(ignore_index=255, label_smoothing=0.1)
DIR/seg/scores/{truth,pred,conf,iou,summary}.npy   a NumPy confusion matrix (row truth, column
                      prediction, 255 left out), per-class IoU (NaN when absent from both),
                      summary = [mIoU over present classes, pixel accuracy, classes present].

Usage: make_seg_fixtures.py --out DIR
"""
import argparse
import json
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from make_model_fixtures import IMAGENET, vitc_metadata
from make_train_fixtures import HP, lr_at
from vit_ref import Block, Cfg, RefViT, randomize, save_npy, write_safetensors

C = 5  # classes, background 0 included

CASES = {
    # name: (backbone config, decoder, dec_dim, dec_depth, dec_heads, seed)
    "linear_cls": (Cfg(dim=32, depth=2, heads=2, patch=4, img_size=16, num_classes=C), "linear", 0, 0, 0, 41),
    "linear_avg": (Cfg(dim=32, depth=2, heads=2, patch=4, img_size=16, num_classes=C, class_token=False,
                       global_pool="avg"), "linear", 0, 0, 0, 42),
    "mask_cls": (Cfg(dim=32, depth=2, heads=2, patch=4, img_size=16, num_classes=C, reg_tokens=1), "mask", 32, 2,
                 2, 43),
    "mask_avg": (Cfg(dim=32, depth=2, heads=2, patch=4, img_size=16, num_classes=C, class_token=False,
                     global_pool="avg"), "mask", 32, 1, 2, 44),
    # no decoder blocks: decoder_norm straight after proj_dec
    "mask_d0": (Cfg(dim=32, depth=1, heads=2, patch=4, img_size=16, num_classes=C), "mask", 16, 0, 2, 49),
}


class MaskDecoder(nn.Module):
    def __init__(self, D, E, depth, heads, eps):
        super().__init__()
        self.proj_dec = nn.Linear(D, E)
        self.cls_emb = nn.Parameter(torch.zeros(1, C, E))
        bc = Cfg(dim=E, heads=heads, mlp_ratio=4.0, qkv_bias=True, ln_eps=eps)
        self.blocks = nn.ModuleList([Block(bc) for _ in range(depth)])
        self.decoder_norm = nn.LayerNorm(E, eps=eps)
        self.proj_patch = nn.Linear(E, E, bias=False)
        self.proj_classes = nn.Linear(E, E, bias=False)
        self.mask_norm = nn.LayerNorm(C, eps=eps)

    def forward(self, p):
        B, N, _ = p.shape
        x = torch.cat([self.proj_dec(p), self.cls_emb.expand(B, -1, -1)], 1)
        for b in self.blocks:
            x = b(x)
        x = self.decoder_norm(x)
        pt, cl = x[:, :N], x[:, N:]
        pt = F.linear(pt, self.proj_patch.weight)
        cl = F.linear(cl, self.proj_classes.weight)
        pt = pt / pt.norm(dim=-1, keepdim=True)
        cl = cl / cl.norm(dim=-1, keepdim=True)
        return self.mask_norm(pt @ cl.transpose(1, 2))


class LinearDecoder(nn.Module):
    def __init__(self, D):
        super().__init__()
        self.head = nn.Linear(D, C)

    def forward(self, p):
        return self.head(p)


class SegRef(nn.Module):
    def __init__(self, cfg, decoder, E, depth, heads):
        super().__init__()
        # the backbone with a final norm over all tokens and no classifier (num_classes 0)
        bb = Cfg(**{k: v for k, v in vars(cfg).items()})
        bb.global_pool, bb.num_classes = "token", 0
        self.c = cfg
        self.backbone = RefViT(bb)
        self.decoder = MaskDecoder(cfg.dim, E, depth, heads, cfg.ln_eps) if decoder == "mask" else LinearDecoder(cfg.dim)

    def grid(self, x):
        P = self.c.patch
        gh, gw = x.shape[2] // P, x.shape[3] // P
        t = self.backbone.norm(self.backbone.forward_features(x))[:, self.c.prefix:]
        s = self.decoder(t)  # B, N, C
        return s.transpose(1, 2).reshape(x.shape[0], C, gh, gw)

    def forward(self, x):
        return F.interpolate(self.grid(x), size=x.shape[2:], mode="bilinear", align_corners=False)

    def named(self):
        """vitc's parameter names: the backbone's at the top level, the decoder's under decoder."""
        out = {}
        for n, p in self.backbone.named_parameters():
            out[n] = p
        for n, p in self.decoder.named_parameters():
            out["decoder." + n] = p
        return out


def randomize_decoder(dec, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in dec.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
            elif name == "cls_emb":
                p.copy_(torch.randn(p.shape, generator=g))
            elif name == "head.weight":
                p.copy_(2.0 / math.sqrt(p.shape[1]) * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p.shape[1]))


def seg_metadata(cfg, name, decoder, E, depth, heads):
    meta = vitc_metadata(cfg, name)
    c = json.loads(meta["vitc.config"])
    c["fc_norm"] = False
    c["task"] = "segment"
    c["head"] = {"decoder": decoder, "dim": E, "depth": depth, "heads": heads} if decoder == "mask" \
        else {"decoder": "linear"}
    meta["vitc.config"] = json.dumps(c)
    pre = json.loads(meta["vitc.preprocess"])
    pre["crop_pct"] = 1.0  # size 16 from a 16 x 16 image: the identity geometry
    meta["vitc.preprocess"] = json.dumps(pre)
    return meta


def no_decay(name, p):
    return p.dim() <= 1 or name.endswith("token") or name == "pos_embed" or name == "decoder.cls_emb"


def argmax_mask(scores):
    return torch.from_numpy(np.argmax(scores.detach().numpy(), axis=1).astype(np.float64))


def make_case(out, name, spec):
    cfg, decoder, E, depth, heads, seed = spec
    d = os.path.join(out, "seg", name)
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(seed)
    model = SegRef(cfg, decoder, E, depth, heads)
    randomize(model.backbone, seed)
    randomize_decoder(model.decoder, seed + 1000)
    model = model.double()
    params = model.named()
    write_safetensors(os.path.join(d, "model.safetensors"), params,
                      seg_metadata(cfg, name, decoder, E, depth, heads))
    # float32 round trip: the reference runs on the weights exactly as vitc reads them
    with torch.no_grad():
        for p in params.values():
            p.copy_(p.float().double())
    g = torch.Generator().manual_seed(seed + 100)
    S = cfg.img_size
    with torch.no_grad():
        for tag, (H, W) in (("", (S, S)), ("_ns", (S, S + 8))):
            x = torch.randn(3, 3, H, W, generator=g, dtype=torch.float64).float().double()
            grid = model.grid(x)
            up = F.interpolate(grid, size=(H, W), mode="bilinear", align_corners=False)
            save_npy(os.path.join(d, f"input{tag}.npy"), x)
            save_npy(os.path.join(d, f"grid{tag}.npy"), grid)
            save_npy(os.path.join(d, f"scores{tag}.npy"), up)
            save_npy(os.path.join(d, f"mask{tag}.npy"), argmax_mask(up))
        # an 8-bit image through the identity preprocessing (ToTensor and Normalize in float32)
        img = torch.randint(0, 256, (S, S, 3), generator=g).double()
        mean, std = torch.tensor(IMAGENET[0]).float(), torch.tensor(IMAGENET[1]).float()
        xi = ((img.float() / 255.0 - mean) / std).permute(2, 0, 1)[None].double()
        save_npy(os.path.join(d, "image.npy"), img)
        save_npy(os.path.join(d, "scores_img.npy"), model(xi)[0])

    # training: a batch of 2 with ignored pixels
    B = 2
    x = torch.randn(B, 3, S, S, generator=g, dtype=torch.float64).float().double()
    y = torch.randint(0, C, (B, S, S), generator=g)
    y[torch.rand(B, S, S, generator=g) < 0.15] = 255
    y[0, :3, :5] = 255
    save_npy(os.path.join(d, "train_input.npy"), x)
    save_npy(os.path.join(d, "train_masks.npy"), y.double())
    save_npy(os.path.join(d, "hparams.npy"), torch.tensor(HP, dtype=torch.float64))
    named = list(params.items())
    with torch.no_grad():
        save_npy(os.path.join(d, "train_up.npy"), model(x))
    for eps, tag in ((0.0, "_ls0"), (HP[7], "")):
        for p in params.values():
            p.grad = None
        loss = F.cross_entropy(model(x), y, ignore_index=255, label_smoothing=eps)
        loss.backward()
        save_npy(os.path.join(d, f"loss{tag}.npy"), loss.detach().reshape(1))
        write_safetensors(os.path.join(d, f"grads{tag}.safetensors"), {n: p.grad for n, p in named})

    opt = torch.optim.AdamW([{"params": [p for n, p in named if not no_decay(n, p)], "weight_decay": HP[2]},
                             {"params": [p for n, p in named if no_decay(n, p)], "weight_decay": 0.0}],
                            lr=HP[0], betas=(HP[3], HP[4]), eps=HP[5])
    losses = []
    for step in range(int(HP[9])):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y, ignore_index=255, label_smoothing=HP[7])
        loss.backward()
        losses.append(loss.item())
        torch.nn.utils.clip_grad_norm_([p for _, p in named], HP[6])
        for grp in opt.param_groups:
            grp["lr"] = lr_at(step)
        opt.step()
    save_npy(os.path.join(d, "losses.npy"), torch.tensor(losses))
    write_safetensors(os.path.join(d, "params.safetensors"), {n: p for n, p in named})
    print(f"seg fixture {name}: loss {losses[0]:.5f} -> {losses[-1]:.5f}")


def make_classifier(out):
    d = os.path.join(out, "seg", "classifier")
    os.makedirs(d, exist_ok=True)
    cfg = Cfg(dim=32, depth=1, heads=2, patch=4, img_size=16, num_classes=C)
    model = RefViT(cfg)
    randomize(model, 45)
    write_safetensors(os.path.join(d, "model.safetensors"), model.state_dict())


def make_bilinear(out):
    d = os.path.join(out, "seg", "bilinear")
    os.makedirs(d, exist_ok=True)
    g = torch.Generator().manual_seed(46)
    # (planes, h, w, H, W): up, down, non-square mixed (up in one axis, down in the other), odd ratios
    specs = [(3, 4, 4, 16, 16), (2, 4, 6, 16, 24), (3, 9, 7, 4, 3), (2, 5, 8, 13, 3), (1, 1, 3, 4, 7)]
    for k, (P, h, w, H, W) in enumerate(specs):
        x = torch.randn(1, P, h, w, generator=g, dtype=torch.float64).float().double().requires_grad_()
        y = F.interpolate(x, size=(H, W), mode="bilinear", align_corners=False)
        dy = torch.randn(1, P, H, W, generator=g, dtype=torch.float64).float().double()
        y.backward(dy)
        save_npy(os.path.join(d, f"{k}_in.npy"), x[0])
        save_npy(os.path.join(d, f"{k}_out.npy"), y[0])
        save_npy(os.path.join(d, f"{k}_dout.npy"), dy[0])
        save_npy(os.path.join(d, f"{k}_din.npy"), x.grad[0])


def make_xent(out):
    d = os.path.join(out, "seg", "xent")
    os.makedirs(d, exist_ok=True)
    g = torch.Generator().manual_seed(47)
    n, K, H, W = 2, 4, 3, 5
    z = (2 * torch.randn(n, K, H, W, generator=g, dtype=torch.float64)).float().double().requires_grad_()
    y = torch.randint(0, K, (n, H, W), generator=g)
    y[0, 0, :4] = 255
    y[1, 2, 1] = 255
    loss = F.cross_entropy(z, y, ignore_index=255, label_smoothing=0.1)
    loss.backward()
    save_npy(os.path.join(d, "logits.npy"), z)
    save_npy(os.path.join(d, "labels.npy"), y.double())
    save_npy(os.path.join(d, "loss.npy"), loss.detach().reshape(1))
    save_npy(os.path.join(d, "grad.npy"), z.grad)


def make_scores(out):
    d = os.path.join(out, "seg", "scores")
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(48)
    K, P = 6, 4000
    # classes 0..3 in the truth, 0..4 predicted (4: false positives only), 5 nowhere
    truth = rng.integers(0, 4, P)
    pred = np.where(rng.random(P) < 0.6, truth, rng.integers(0, 5, P))
    truth[rng.random(P) < 0.1] = 255
    keep = truth != 255
    conf = np.bincount(truth[keep] * K + pred[keep], minlength=K * K).reshape(K, K)
    tp = np.diag(conf).astype(np.float64)
    denom = conf.sum(0) + conf.sum(1) - np.diag(conf)
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(denom > 0, tp / np.maximum(denom, 1), np.nan)
    present = ~np.isnan(iou)
    summary = np.array([iou[present].mean(), tp.sum() / conf.sum(), present.sum()])
    np.save(os.path.join(d, "truth.npy"), truth.astype(np.float32))
    np.save(os.path.join(d, "pred.npy"), pred.astype(np.float32))
    np.save(os.path.join(d, "conf.npy"), conf.astype(np.float64))
    np.save(os.path.join(d, "iou.npy"), iou.astype(np.float64))
    np.save(os.path.join(d, "summary.npy"), summary.astype(np.float64))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    for name, spec in CASES.items():
        make_case(args.out, name, spec)
    make_classifier(args.out)
    make_bilinear(args.out)
    make_xent(args.out)
    make_scores(args.out)
    print(f"seg fixtures in {args.out}/seg")


if __name__ == "__main__":
    main()
