#!/usr/bin/env python3
"""Writes the training fixtures for vitc's C tests (tests/unit/test_train.c).

For each case, DIR/train/<case>/:
  model.safetensors   seeded random weights, timm names (heads passed to the loader: 2); vitc
                      metadata too for the overlapping-patch case
  input.npy           a batch B x 3 x H x W;  labels.npy  its class indices (as float32)
  loss.npy            softmax cross-entropy (label smoothing) of the batch at these weights
  grads.safetensors   d loss / d parameter for every parameter (timm names)
  hparams.npy         [lr, min_lr, weight_decay, beta1, beta2, eps, clip, label_smoothing, warmup, total]
  losses.npy          the loss before each of `total` AdamW steps on the same batch
  params.safetensors  every parameter after those steps
  losses_ld.npy, params_ld.safetensors   the same ten steps with layer-wise learning-rate decay 0.75
  losses_sam.npy, params_sam.safetensors the same ten steps with SAM (radius 0.05)
  targets.npy         soft targets B x classes: the batch mixed with itself reversed (mixup /
                      CutMix style), lam = 0.65, label smoothing as above
  loss_soft.npy, grads_soft.safetensors   loss -sum(q log softmax) and gradients against those
  dist_targets.npy, loss_deit.npy, grads_deit.safetensors   (cases with a distillation token) DeiT
                      distillation: the mean of the class head's cross-entropy against the labels and
                      the distillation head's against these teacher probabilities, and its gradients
All computed with PyTorch autograd and torch.optim.AdamW in float64: parameter groups without
weight decay for norms, biases, LayerScale, tokens, position embeddings and BEiT's relative position bias tables; the learning rate of
step s (0-based) = lr*(s+1)/warmup during warm-up, then cosine from lr to min_lr at `total`;
torch.nn.utils.clip_grad_norm_ before each step.

Usage: make_train_fixtures.py --out DIR
"""
import argparse
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

from make_model_fixtures import vitc_metadata
from vit_ref import Cfg, RefViT, randomize, save_npy, write_safetensors

# lr, min_lr, wd, beta1, beta2, eps, clip, label smoothing, warmup, total
HP = [3e-3, 1e-4, 0.05, 0.9, 0.98, 1e-8, 0.5, 0.1, 3, 10]

CASES = {
    # token pool; registers, LayerScale, qk_norm, pre_norm (no patch bias), no qkv bias
    "full": (Cfg(dim=32, depth=2, heads=2, patch=4, img_size=16, num_classes=5, reg_tokens=2, layer_scale=True,
                 qk_norm=True, pre_norm=True, qkv_bias=False), 21),
    # DeiT distilled: class + distillation token, two heads averaged
    "distilled": (Cfg(dim=32, depth=2, heads=2, patch=4, img_size=16, num_classes=4, dist_token=True), 22),
    # overlapping patches: kernel 6 at stride 2 (zero padding 2), avg pool
    "overlap": (Cfg(dim=32, depth=2, heads=2, patch=2, patch_kernel=6, img_size=8, num_classes=4,
                    global_pool="avg"), 24),
    # avg pool + fc_norm, no class token, position embeddings on patches only, registers
    "avg": (Cfg(dim=32, depth=2, heads=2, patch=4, img_size=16, num_classes=3, class_token=False,
                global_pool="avg", reg_tokens=1, no_embed_class=True, layer_scale=True), 23),
    # the families' MLPs: CLIP's quick_gelu, SigLIP's tanh GELU, DINOv2's SwiGLU (with LayerScale, as DINOv2)
    "quick_gelu": (Cfg(dim=32, depth=2, heads=2, patch=4, img_size=16, num_classes=4, act="quick_gelu"), 25),
    "gelu_tanh": (Cfg(dim=32, depth=2, heads=2, patch=4, img_size=16, num_classes=4, act="gelu_tanh",
                      pre_norm=True), 26),
    "swiglu": (Cfg(dim=32, depth=2, heads=2, patch=4, img_size=16, num_classes=3, mlp="swiglu", mlp_ratio=2.0,
                   layer_scale=True, reg_tokens=1), 27),
    # SigLIP's shape: no class token, the tanh GELU, the attention-pooling head after the final norm
    "map": (Cfg(dim=32, depth=2, heads=2, patch=4, img_size=16, num_classes=4, act="gelu_tanh", class_token=False,
                global_pool="map"), 28),
    # BEiT's shape: the relative position bias per block, q / v biases (no k bias), LayerScale, mean pooling
    "beit": (Cfg(dim=32, depth=2, heads=2, patch=4, img_size=16, num_classes=4, layer_scale=True, global_pool="avg",
                 rel_pos_bias=True), 29),
}


def lr_at(step):
    lr, min_lr, warmup, total = HP[0], HP[1], HP[8], HP[9]
    if step < warmup:
        return lr * (step + 1) / warmup
    p = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_lr + (lr - min_lr) * 0.5 * (1 + math.cos(math.pi * p))


LAYER_DECAY = 0.75


def lr_scale(name, depth, d):
    """Layer-wise learning-rate decay (BEiT / MAE fine-tuning): d ** (depth + 1 - layer), layer 0 for
    the stem, i + 1 for blocks.i, depth + 1 for the final norm and heads."""
    if name.startswith("blocks."):
        layer = int(name.split(".")[1]) + 1
    elif name.startswith(("patch_embed.", "norm_pre.")) or name in ("pos_embed", "cls_token", "dist_token",
                                                                     "reg_token"):
        layer = 0
    else:
        layer = depth + 1
    return d ** (depth + 1 - layer)


def no_decay(name, p):
    return p.dim() <= 1 or name.endswith("token") or name.endswith("probe") or name == "pos_embed" or \
        name.endswith("relative_position_bias_table")  # as timm's BEiT (no_weight_decay)


SAM_RHO = 0.05


def adamw_steps(model, opt, x, y, on_first_step=None, sam_rho=0.0):
    """The ten steps: cross-entropy with label smoothing, clipping, each group at the scheduled
    learning rate times its "scale". With sam_rho, SAM: the gradients at w + rho g / |g| (g the
    batch's gradients, |g| their global norm), then w restored and stepped with those. Returns the
    loss before each step (at w)."""
    losses = []
    params = list(model.parameters())
    for step in range(int(HP[9])):
        opt.zero_grad()
        logits, _ = model(x)
        loss = F.cross_entropy(logits, y, label_smoothing=HP[7])
        loss.backward()
        if step == 0 and on_first_step:
            on_first_step(loss)
        losses.append(loss.item())
        if sam_rho:
            with torch.no_grad():
                norm = torch.sqrt(sum((p.grad ** 2).sum() for p in params))
                old = [p.clone() for p in params]
                for p in params:
                    p.add_(p.grad * (sam_rho / (norm + 1e-12)))
            opt.zero_grad()
            F.cross_entropy(model(x)[0], y, label_smoothing=HP[7]).backward()
            with torch.no_grad():
                for p, o in zip(params, old):
                    p.copy_(o)
        torch.nn.utils.clip_grad_norm_(model.parameters(), HP[6])
        for grp in opt.param_groups:
            grp["lr"] = lr_at(step) * grp["scale"]
        opt.step()
    return losses


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    for case, (cfg, seed) in CASES.items():
        d = os.path.join(args.out, "train", case)
        os.makedirs(d, exist_ok=True)
        torch.manual_seed(seed)
        model = RefViT(cfg)
        randomize(model, seed, head_std=0.25)
        if cfg.rel_pos_bias:  # BEiT has no k bias: the k third of qkv.bias is 0 and stays so
            with torch.no_grad():
                for blk in model.blocks:
                    blk.attn.qkv.bias[cfg.dim:2 * cfg.dim] = 0
        # timm names; with vitc metadata where timm has no word for the architecture (overlapping patches,
        # the families' activations, SwiGLU, the attention-pooling head)
        meta = vitc_metadata(cfg, case) if cfg.patch_kernel or cfg.act != "gelu" or cfg.mlp != "mlp" or \
            cfg.global_pool == "map" or cfg.rel_pos_bias else None
        write_safetensors(os.path.join(d, "model.safetensors"), dict(model.state_dict()), meta)
        model = model.double()
        g = torch.Generator().manual_seed(seed + 100)
        B = 4
        x = torch.randn(B, 3, cfg.img_size, cfg.img_size, generator=g, dtype=torch.float64)
        y = torch.randint(0, cfg.num_classes, (B,), generator=g)
        save_npy(os.path.join(d, "input.npy"), x)
        save_npy(os.path.join(d, "labels.npy"), y.double())
        save_npy(os.path.join(d, "hparams.npy"), torch.tensor(HP, dtype=torch.float64))

        init = {k: v.clone() for k, v in model.state_dict().items()}
        named = list(model.named_parameters())
        decay = [p for n, p in named if not no_decay(n, p)]
        nodecay = [p for n, p in named if no_decay(n, p)]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": HP[2]},
                                 {"params": nodecay, "weight_decay": 0.0}],
                                lr=HP[0], betas=(HP[3], HP[4]), eps=HP[5])
        # soft targets at the initial weights
        eps, lam, C = HP[7], 0.65, cfg.num_classes
        smooth = lambda t: F.one_hot(t, C).double() * (1 - eps) + eps / C
        q = lam * smooth(y) + (1 - lam) * smooth(y.flip(0))
        logits, _ = model(x)
        loss = -(q * F.log_softmax(logits, dim=-1)).sum(-1).mean()
        loss.backward()
        save_npy(os.path.join(d, "targets.npy"), q)
        save_npy(os.path.join(d, "loss_soft.npy"), loss.detach().reshape(1))
        write_safetensors(os.path.join(d, "grads_soft.safetensors"), {n: p.grad for n, p in named})
        opt.zero_grad()
        if cfg.dist_token:
            # DeiT distillation: the class head against the labels (label smoothing), the distillation
            # head against a teacher's probabilities; the loss is the mean of the two
            tq = F.softmax(2 * torch.randn(B, C, generator=g, dtype=torch.float64), dim=-1)
            xn = model.norm(model.forward_features(x))
            loss = 0.5 * F.cross_entropy(model.head(xn[:, 0]), y, label_smoothing=eps) \
                - 0.5 * (tq * F.log_softmax(model.head_dist(xn[:, 1]), dim=-1)).sum(-1).mean()
            loss.backward()
            save_npy(os.path.join(d, "dist_targets.npy"), tq)
            save_npy(os.path.join(d, "loss_deit.npy"), loss.detach().reshape(1))
            write_safetensors(os.path.join(d, "grads_deit.safetensors"), {n: p.grad for n, p in named})
            opt.zero_grad()

        def first_step(loss):
            save_npy(os.path.join(d, "loss.npy"), loss.detach().reshape(1))
            write_safetensors(os.path.join(d, "grads.safetensors"), {n: p.grad for n, p in named})

        for grp in opt.param_groups:
            grp["scale"] = 1.0
        losses = adamw_steps(model, opt, x, y, first_step)
        save_npy(os.path.join(d, "losses.npy"), torch.tensor(losses))
        write_safetensors(os.path.join(d, "params.safetensors"), dict(model.state_dict()))

        # the same ten steps from the same weights with layer-wise learning-rate decay: one parameter
        # group per tensor, lr (and so the decoupled weight decay) scaled by its layer's factor
        model.load_state_dict(init)
        groups = [{"params": [p], "weight_decay": 0.0 if no_decay(n, p) else HP[2],
                   "scale": lr_scale(n, cfg.depth, LAYER_DECAY)} for n, p in model.named_parameters()]
        opt = torch.optim.AdamW(groups, lr=HP[0], betas=(HP[3], HP[4]), eps=HP[5])
        losses_ld = adamw_steps(model, opt, x, y)
        save_npy(os.path.join(d, "losses_ld.npy"), torch.tensor(losses_ld))
        write_safetensors(os.path.join(d, "params_ld.safetensors"), dict(model.state_dict()))

        # the same ten steps with SAM (radius SAM_RHO), plain AdamW groups
        model.load_state_dict(init)
        opt = torch.optim.AdamW([{"params": [p for n, p in model.named_parameters() if not no_decay(n, p)],
                                  "weight_decay": HP[2], "scale": 1.0},
                                 {"params": [p for n, p in model.named_parameters() if no_decay(n, p)],
                                  "weight_decay": 0.0, "scale": 1.0}], lr=HP[0], betas=(HP[3], HP[4]), eps=HP[5])
        losses_sam = adamw_steps(model, opt, x, y, sam_rho=SAM_RHO)
        save_npy(os.path.join(d, "losses_sam.npy"), torch.tensor(losses_sam))
        write_safetensors(os.path.join(d, "params_sam.safetensors"), dict(model.state_dict()))
        print(f"train fixture {case}: loss {losses[0]:.5f} -> {losses[-1]:.5f}")


if __name__ == "__main__":
    main()
