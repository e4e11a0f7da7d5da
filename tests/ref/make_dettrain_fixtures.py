#!/usr/bin/env python3
"""Writes the detection-training fixtures for vitc's C tests (tests/unit/test_dettrain.c).

A vitc detection model (task "detect", YOLOS) restated in float64 PyTorch on the reference
backbone of vit_ref.py: tokens [cls, patches, detection tokens], position embeddings over all
of them, optional mid position embeddings (table l added after block l, every block but the
last), the final norm, then on the detection tokens two 3-layer MLPs (Linear, ReLU, Linear,
ReLU, Linear): class logits (classes + 1, "no object" last) and raw boxes (sigmoid: cxcywh).
The loss is make_det_fixtures.py's restatement of Hugging Face's YolosHungarianMatcher +
YolosLoss (costs 1 / 5 / 2, eos_coef 0.1, total = ce + 5 l1 + 2 giou).

The matching is piecewise constant in the weights: vitc (float32) and this reference (float64)
must pick the same assignment at every step. For each image and step the script computes, by
brute force over all injective assignments, the gap between the best and the second-best
total matching cost and refuses to write a case whose smallest gap is below MIN_GAP (the seeds
below were chosen so that none is; the gaps are saved). The loss also has kinks (L1's |d|,
GIoU's max / min of corners): at step 1 every matched coordinate and corner is at least MIN_KINK
from its target's, so that the C test's finite differences rarely straddle one (it detects and
skips those that do).

For each case DIR/dettrain/<case>/:
  model.safetensors   seeded random weights, vitc names, vitc metadata (task "detect", head
                      {"det_tokens": Q, "mid_pos": 0|1})
  input.npy           the batch B x 3 x 32 x 32
  n_targets.npy (B), tclass.npy (N), tbox.npy (N x 4 cxcywh): the targets, image after image;
                      one image without targets, one with as many as there are detection tokens
  hparams.npy         make_train_fixtures.py's HP (label smoothing unused)
  losses0.npy         [ce, l1, giou, total, num_boxes] at the initial weights
  logits.npy, boxes.npy   the outputs at the initial weights (B x Q x (C+1), B x Q x 4 after the sigmoid)
  grads.safetensors   d total / d parameter for every parameter (autograd)
  losses.npy          the total loss before each of ten AdamW steps (torch.optim.AdamW: no weight
                      decay for 1-d parameters, tokens, pos_embed and mid_pos_embed; the learning
                      rate of make_train_fixtures.lr_at; clip_grad_norm_ before each step)
  parts.npy           steps x [ce, l1, giou] of those steps
  matches.npy         steps x B x Q: each query's target within its image (-1: no object)
  gaps.npy            steps x B: the matching cost gap (inf for images with no target)
  params.safetensors  every parameter after the ten steps

Usage: make_dettrain_fixtures.py --out DIR
"""
import argparse
import itertools
import json
import math
import os

import numpy as np
import torch
import torch.nn as nn

from make_det_fixtures import detr_loss, generalized_box_iou, xyxy
from make_model_fixtures import vitc_metadata
from make_train_fixtures import HP, lr_at
from vit_ref import Cfg, RefViT, randomize, save_npy, write_safetensors

C = 3  # object classes ("no object" is class C)
P_DEFAULT = [1.0, 5.0, 2.0, 1.0, 5.0, 2.0, 0.1]  # class, bbox, giou costs; ce, l1, giou weights; eos_coef
MIN_KINK = 5e-3
MIN_GAP = 2e-2  # seeds 75 and 93: smallest gaps 0.069 and 0.072 (0.076 and 0.32 at step 1)

CASES = {
    # name: (backbone config, detection tokens, mid position embeddings, targets per image, seed)
    "plain": (Cfg(dim=32, depth=2, heads=2, patch=8, img_size=32, num_classes=C), 5, False, [2, 0, 5, 1], 75),
    # three blocks: two mid tables, so that table l must go after block l
    "mid": (Cfg(dim=32, depth=3, heads=4, patch=8, img_size=32, num_classes=C), 6, True, [1, 6, 0, 3], 93),
}


class DetRef(RefViT):
    """RefViT's backbone with detection tokens after the patches, YOLOS' mid position embeddings
    and the two MLP heads; vitc's (timm-style) parameter names."""

    def __init__(self, c, Q, mid):
        bb = Cfg(**{k: v for k, v in vars(c).items()})
        bb.num_classes, bb.global_pool = 0, "token"
        super().__init__(bb)
        self.Q, self.ncls = Q, c.num_classes
        D, T = c.dim, 1 + c.grid * c.grid + Q
        self.det_token = nn.Parameter(torch.zeros(1, Q, D))
        self.pos_embed = nn.Parameter(torch.zeros(1, T, D))  # [cls, patches, detection tokens]
        self.mid_pos_embed = nn.Parameter(torch.zeros(c.depth - 1, 1, T, D)) if mid and c.depth > 1 else None
        self.det_head = nn.ModuleDict({
            "class": nn.ModuleList([nn.Linear(D, D), nn.Linear(D, D), nn.Linear(D, c.num_classes + 1)]),
            "box": nn.ModuleList([nn.Linear(D, D), nn.Linear(D, D), nn.Linear(D, 4)])})

    def forward_features(self, img, collect=None):
        B = img.shape[0]
        x = self.patch_embed.proj(img).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(B, -1, -1), x, self.det_token.expand(B, -1, -1)], 1) + self.pos_embed
        for i, blk in enumerate(self.blocks):
            x = blk(x)
            if self.mid_pos_embed is not None and i < len(self.blocks) - 1:
                x = x + self.mid_pos_embed[i]
        return x

    @staticmethod
    def mlp(layers, v):
        for j, l in enumerate(layers):
            v = l(v)
            if j < 2:
                v = torch.relu(v)
        return v

    def forward(self, img, collect=None):
        s = self.norm(self.forward_features(img))[:, -self.Q:]
        return self.mlp(self.det_head["class"], s), self.mlp(self.det_head["box"], s)  # logits, raw boxes


def randomize_det(model, seed):
    """vit_ref's randomize for the backbone, then detection tokens, position embeddings and heads
    at scales that keep the tokens apart and the outputs of order one."""
    randomize(model, seed)
    g = torch.Generator().manual_seed(seed + 500)
    D = model.c.dim
    with torch.no_grad():
        model.det_token.copy_(0.5 * torch.randn(model.det_token.shape, generator=g))
        model.pos_embed.copy_(0.3 * torch.randn(model.pos_embed.shape, generator=g))
        if model.mid_pos_embed is not None:
            model.mid_pos_embed.copy_(0.3 * torch.randn(model.mid_pos_embed.shape, generator=g))
        for head in ("class", "box"):
            for j, l in enumerate(model.det_head[head]):
                l.weight.copy_(1.5 / math.sqrt(D) * torch.randn(l.weight.shape, generator=g))
                l.bias.copy_(0.1 * torch.randn(l.bias.shape, generator=g))
        # boxes: widths and heights around sigmoid(-1) = 0.27
        model.det_head["box"][2].bias[2:] -= 1.0


def det_metadata(cfg, name, Q, mid):
    meta = vitc_metadata(cfg, name)
    c = json.loads(meta["vitc.config"])
    c["fc_norm"] = False
    c["task"] = "detect"
    c["head"] = {"det_tokens": Q, "mid_pos": int(mid)}
    meta["vitc.config"] = json.dumps(c)
    meta["vitc.labels"] = json.dumps([f"thing {i}" for i in range(cfg.num_classes)])
    return meta


def no_decay(name, p):
    return p.dim() <= 1 or name.endswith("token") or name in ("pos_embed", "mid_pos_embed")


@torch.no_grad()
def matching_gaps(logits, boxes, tcls, tbox, sizes, P):
    """per image: second-best minus best total matching cost over all injective assignments of
    the targets to the queries (inf with no target)"""
    B, Q = logits.shape[:2]
    prob = logits.softmax(-1)
    gaps, off = [], 0
    for i, n in enumerate(sizes):
        if n == 0:
            gaps.append(math.inf)
            continue
        tc, tb = tcls[off:off + n], tbox[off:off + n]
        cost = (P[1] * torch.cdist(boxes[i], tb, p=1) + P[0] * -prob[i][:, tc]
                + P[2] * -generalized_box_iou(xyxy(boxes[i]), xyxy(tb))).numpy()
        totals = sorted(sum(cost[q, j] for j, q in enumerate(perm)) for perm in itertools.permutations(range(Q), n))
        gaps.append(totals[1] - totals[0] if len(totals) > 1 else math.inf)
        off += n
    return gaps


@torch.no_grad()
def kink_margin(boxes, tbox, m, sizes):
    """the smallest |prediction - target| over the matched pairs' coordinates (L1's kinks) and
    corners (GIoU's max / min): finite differences need a margin there"""
    off, out = np.concatenate([[0], np.cumsum(sizes)]).astype(int), math.inf
    for i in range(len(sizes)):
        for q in range(boxes.shape[1]):
            if m[i, q] >= 0:
                p, t = boxes[i, q], tbox[off[i] + int(m[i, q])]
                out = min(out, (p - t).abs().min().item(), (xyxy(p) - xyxy(t)).abs().min().item())
    return out


def make_case(out, name, spec):
    cfg, Q, mid, sizes, seed = spec
    d = os.path.join(out, "dettrain", name)
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(seed)
    model = DetRef(cfg, Q, mid)
    randomize_det(model, seed)
    model = model.double()
    named = list(model.named_parameters())
    write_safetensors(os.path.join(d, "model.safetensors"), dict(named), det_metadata(cfg, name, Q, mid))
    # float32 round trip: the reference runs on the weights exactly as vitc reads them
    with torch.no_grad():
        for _, p in named:
            p.copy_(p.float().double())
    g = torch.Generator().manual_seed(seed + 100)
    B, S, N = len(sizes), cfg.img_size, sum(sizes)
    x = torch.randn(B, 3, S, S, generator=g, dtype=torch.float64).float().double()
    tcls = torch.randint(0, C, (N,), generator=g)
    cxcy = 0.2 + 0.6 * torch.rand(N, 2, generator=g, dtype=torch.float64)
    wh = 0.05 + 0.35 * torch.rand(N, 2, generator=g, dtype=torch.float64)
    tbox = torch.cat([cxcy, wh], 1).float().double()
    save_npy(os.path.join(d, "input.npy"), x)
    save_npy(os.path.join(d, "n_targets.npy"), torch.tensor(sizes, dtype=torch.float64))
    save_npy(os.path.join(d, "tclass.npy"), tcls.double())
    save_npy(os.path.join(d, "tbox.npy"), tbox)
    save_npy(os.path.join(d, "hparams.npy"), torch.tensor(HP, dtype=torch.float64))

    def loss_of():
        logits, raw = model(x)
        boxes = raw.sigmoid()
        (ce, l1, giou, total, nb), m, _ = detr_loss(logits, boxes, tcls, tbox, sizes, P_DEFAULT, C)
        gaps = matching_gaps(logits.detach(), boxes.detach(), tcls, tbox, sizes, P_DEFAULT)
        return (ce, l1, giou, total, nb), m, gaps, logits, boxes

    opt = torch.optim.AdamW([{"params": [p for n, p in named if not no_decay(n, p)], "weight_decay": HP[2]},
                             {"params": [p for n, p in named if no_decay(n, p)], "weight_decay": 0.0}],
                            lr=HP[0], betas=(HP[3], HP[4]), eps=HP[5])
    losses, parts, matches, all_gaps = [], [], [], []
    for step in range(int(HP[9])):
        opt.zero_grad()
        (ce, l1, giou, total, nb), m, gaps, logits, boxes = loss_of()
        total.backward()
        if step == 0:
            save_npy(os.path.join(d, "losses0.npy"), torch.tensor([ce.item(), l1.item(), giou.item(), total.item(), nb]))
            save_npy(os.path.join(d, "logits.npy"), logits)
            save_npy(os.path.join(d, "boxes.npy"), boxes)
            write_safetensors(os.path.join(d, "grads.safetensors"), {n: p.grad for n, p in named})
            kink = kink_margin(boxes, tbox, m, sizes)
        losses.append(total.item())
        parts.append([ce.item(), l1.item(), giou.item()])
        matches.append(m)
        all_gaps.append(gaps)
        torch.nn.utils.clip_grad_norm_([p for _, p in named], HP[6])
        for grp in opt.param_groups:
            grp["lr"] = lr_at(step)
        opt.step()
    gap = min(min(gs) for gs in all_gaps)
    if gap < MIN_GAP or kink < MIN_KINK:
        raise SystemExit(f"dettrain fixture {name}: matching cost gap {gap:.3g} (at least {MIN_GAP}), step-1 margin "
                         f"to the loss's kinks {kink:.3g} (at least {MIN_KINK}): choose another seed")
    save_npy(os.path.join(d, "losses.npy"), torch.tensor(losses))
    save_npy(os.path.join(d, "parts.npy"), torch.tensor(parts))
    save_npy(os.path.join(d, "matches.npy"), torch.tensor(np.array(matches)))
    np.save(os.path.join(d, "gaps.npy"), np.array(all_gaps, dtype=np.float32))
    write_safetensors(os.path.join(d, "params.safetensors"), dict(named))
    changes = sum(int((matches[s] != matches[s - 1]).any()) for s in range(1, len(matches)))
    print(f"dettrain fixture {name}: loss {losses[0]:.5f} -> {losses[-1]:.5f}, smallest matching gap {gap:.3g}, "
          f"step-1 kink margin {kink:.3g}, "
          f"matching changed at {changes} steps")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    for name, spec in CASES.items():
        make_case(args.out, name, spec)
    print(f"dettrain fixtures in {args.out}/dettrain")


if __name__ == "__main__":
    main()
