#!/usr/bin/env python3
"""Writes the detection-math fixtures for vitc's C tests (tests/unit/test_detmath.c).

Matcher: scipy.optimize.linear_sum_assignment on cost matrices (queries x targets, as many or
more queries than targets), random float32-valued ones (no ties) and small-integer ones (many
equal optima).
Loss: a float64 PyTorch restatement of Hugging Face's YolosHungarianMatcher + YolosLoss
(DETR's set criterion): cost = bbox_cost * L1(cxcywh) + class_cost * -softmax[class]
+ giou_cost * -GIoU(xyxy), linear_sum_assignment per image; loss_ce = cross_entropy with the
class weights [1, ..., 1, eos_coef] (no object last) over all queries of the batch; loss_bbox
= sum |pred - target| / num_boxes and loss_giou = sum (1 - GIoU) / num_boxes over the matched
pairs, num_boxes = max(targets in the batch, 1); total = ce_w ce + l1_w l1 + giou_w giou.
Boxes are the sigmoid of the raw box outputs; gradients by autograd.
mAP: an independent NumPy statement of COCO's bbox evaluation (pycocotools' definition:
per image and class the best 100 detections by stable score order, greedy matching at IoU
.50:.05:.95 to the unmatched ground truth of highest IoU, per class accumulation in stable
score order, 101-point interpolated precision, classes without ground truth left out).

DIR/det/hungarian/cases.npy          rows [Q, n, ties] for cases 000, 001, ...
DIR/det/hungarian/NNN_cost.npy       Q x n costs;  NNN_qot.npy: scipy's query for each target
DIR/det/loss/<case>/                 logits (B,Q,C+1), boxes (B,Q,4 raw), n_targets (B),
                                     tclass (N), tbox (N,4), params (7: class, bbox, giou costs,
                                     ce, l1, giou weights, eos_coef), losses [ce, l1, giou,
                                     total, num_boxes], d_logits, d_boxes (raw), d_boxes_post
                                     (w.r.t. the sigmoid's output), match (B,Q; -1 none),
                                     cost0 (image 0's cost matrix)
DIR/det/map/<case>/                  det (n x 7: image, class, score, x0, y0, x1, y1), gt (m x 6:
                                     image, class, x0, y0, x1, y1), meta [images, classes],
                                     result [mAP, mAP50, mAP75, classes present, AP (C), AP50 (C)]

Usage: make_det_fixtures.py --out DIR
"""
import argparse
import os

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment


def save(d, name, a):
    np.save(os.path.join(d, name + ".npy"), np.ascontiguousarray(np.asarray(a, dtype=np.float32)))


# ------------------------------------------------------------------ matcher

def make_hungarian(out):
    d = os.path.join(out, "det", "hungarian")
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(1801)
    cases = []
    # (Q, n, kind): kind 0 uniform floats, 1 small integers (ties), 2 constant, 3 mixed scales, 4 signed
    specs = [(1, 1, 0), (5, 5, 0), (8, 3, 0), (10, 10, 0), (20, 7, 0), (30, 30, 0), (50, 12, 0), (100, 4, 0),
             (4, 4, 1), (6, 3, 1), (10, 10, 1), (12, 5, 1), (25, 25, 1), (40, 8, 1), (7, 7, 1), (9, 1, 1),
             (7, 4, 2), (15, 9, 3), (12, 12, 4), (100, 100, 0), (64, 60, 1)]
    for k, (Q, n, kind) in enumerate(specs):
        if kind == 0:
            c = rng.random((Q, n))
        elif kind == 1:
            c = rng.integers(0, 3, (Q, n)).astype(np.float64)
        elif kind == 2:
            c = np.full((Q, n), 3.0)
        elif kind == 3:
            c = rng.random((Q, n)) * 10.0 ** rng.integers(-3, 6, (Q, n))
        else:
            c = rng.uniform(-10, 10, (Q, n))
        c = c.astype(np.float32).astype(np.float64)
        rows, cols = linear_sum_assignment(c)
        qot = np.zeros(n)
        qot[cols] = rows
        save(d, f"{k:03d}_cost", c)
        save(d, f"{k:03d}_qot", qot)
        cases.append([Q, n, 1 if kind in (1, 2) else 0])
    save(d, "cases", np.array(cases))


# ------------------------------------------------------------------ loss

def xyxy(b):
    cx, cy, w, h = b.unbind(-1)
    return torch.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], -1)


def generalized_box_iou(b1, b2):
    """all pairs of corner boxes, as DETR's box_ops"""
    a1 = (b1[:, 2] - b1[:, 0]) * (b1[:, 3] - b1[:, 1])
    a2 = (b2[:, 2] - b2[:, 0]) * (b2[:, 3] - b2[:, 1])
    wh = (torch.min(b1[:, None, 2:], b2[:, 2:]) - torch.max(b1[:, None, :2], b2[:, :2])).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = a1[:, None] + a2 - inter
    iou = inter / union
    ewh = (torch.max(b1[:, None, 2:], b2[:, 2:]) - torch.min(b1[:, None, :2], b2[:, :2])).clamp(min=0)
    area = ewh[..., 0] * ewh[..., 1]
    return iou - (area - union) / area


@torch.no_grad()
def match(logits, boxes, tcls, tbox, sizes, P):
    B, Q = logits.shape[:2]
    prob = logits.flatten(0, 1).softmax(-1)
    ob = boxes.flatten(0, 1)
    cost = (P[1] * torch.cdist(ob, tbox, p=1) + P[0] * -prob[:, tcls] + P[2] * -generalized_box_iou(xyxy(ob), xyxy(tbox)))
    cost = cost.view(B, Q, -1)
    out, off = [], 0
    for i, n in enumerate(sizes):
        r, c = linear_sum_assignment(cost[i, :, off:off + n].numpy())
        out.append((torch.as_tensor(r, dtype=torch.long), torch.as_tensor(c, dtype=torch.long)))
        off += n
    return out, cost


def detr_loss(logits, boxes, tcls, tbox, sizes, P, C):
    """returns the losses, the matching and image 0's cost matrix"""
    B, Q = logits.shape[:2]
    indices, cost = match(logits, boxes, tcls, tbox, sizes, P)
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    num_boxes = max(float(sum(sizes)), 1.0)
    bi = torch.cat([torch.full_like(r, i) for i, (r, _) in enumerate(indices)])
    qi = torch.cat([r for r, _ in indices])
    ti = torch.cat([c + int(starts[i]) for i, (_, c) in enumerate(indices)])
    target = torch.full((B, Q), C, dtype=torch.long)
    target[bi, qi] = tcls[ti]
    weight = torch.ones(C + 1, dtype=torch.float64)
    weight[-1] = P[6]
    ce = F.cross_entropy(logits.transpose(1, 2), target, weight)
    src, tgt = boxes[bi, qi], tbox[ti]
    l1 = F.l1_loss(src, tgt, reduction="none").sum() / num_boxes
    giou = (1 - torch.diag(generalized_box_iou(xyxy(src), xyxy(tgt)))).sum() / num_boxes
    total = P[3] * ce + P[4] * l1 + P[5] * giou
    m = -np.ones((B, Q))
    for i, (r, c) in enumerate(indices):
        m[i, r.numpy()] = c.numpy()
    return (ce, l1, giou, total, num_boxes), m, cost[0, :, :sizes[0]]


def make_loss_case(out, name, B, Q, C, sizes, P, seed):
    d = os.path.join(out, "det", "loss", name)
    os.makedirs(d, exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    f32 = lambda t: t.float().double()  # noqa: E731  values a float32 file holds exactly
    logits = f32(2.0 * torch.randn(B, Q, C + 1, generator=g))
    raw = torch.randn(B, Q, 4, generator=g, dtype=torch.float64)
    raw[..., 2:] = raw[..., 2:] * 0.6 - 1.2  # widths and heights around 0.23
    raw = f32(raw)
    N = sum(sizes)
    tcls = torch.randint(0, C, (N,), generator=g)
    cxcy = 0.2 + 0.6 * torch.rand(N, 2, generator=g, dtype=torch.float64)
    wh = 0.05 + 0.35 * torch.rand(N, 2, generator=g, dtype=torch.float64)
    tbox = f32(torch.cat([cxcy, wh], 1))
    logits.requires_grad_(True)
    raw.requires_grad_(True)
    boxes = raw.sigmoid()
    boxes.retain_grad()
    (ce, l1, giou, total, nb), m, cost0 = detr_loss(logits, boxes, tcls, tbox, sizes, P, C)
    total.backward()
    save(d, "logits", logits.detach())
    save(d, "boxes", raw.detach())
    save(d, "n_targets", np.array(sizes))
    save(d, "tclass", tcls.numpy())
    save(d, "tbox", tbox.numpy())
    save(d, "params", np.array(P))
    save(d, "losses", np.array([ce.item(), l1.item(), giou.item(), total.item(), nb]))
    save(d, "d_logits", logits.grad)
    save(d, "d_boxes", raw.grad)
    save(d, "d_boxes_post", boxes.grad)
    save(d, "match", m)
    save(d, "cost0", cost0.numpy() if sizes[0] else np.zeros((Q, 0)))


DEFAULT = [1.0, 5.0, 2.0, 1.0, 5.0, 2.0, 0.1]


def make_loss(out):
    torch.set_default_dtype(torch.float64)
    make_loss_case(out, "mixed", 4, 10, 5, [3, 0, 5, 1], DEFAULT, 1811)
    make_loss_case(out, "full", 2, 4, 3, [4, 2], DEFAULT, 1812)
    make_loss_case(out, "empty", 2, 5, 3, [0, 0], DEFAULT, 1813)
    make_loss_case(out, "params", 3, 6, 10, [2, 6, 1], [2.0, 1.0, 3.0, 0.5, 2.0, 1.0, 0.2], 1814)
    make_loss_case(out, "large", 2, 100, 10, [4, 3], DEFAULT, 1815)


# ------------------------------------------------------------------ mAP

def iou_xywh(d, g):
    """pycocotools' box IoU, d (n, 4) and g (m, 4) as [x, y, w, h]"""
    iw = np.minimum(d[:, None, 0] + d[:, None, 2], g[None, :, 0] + g[None, :, 2]) - np.maximum(d[:, None, 0], g[None, :, 0])
    ih = np.minimum(d[:, None, 1] + d[:, None, 3], g[None, :, 1] + g[None, :, 3]) - np.maximum(d[:, None, 1], g[None, :, 1])
    inter = np.where((iw > 0) & (ih > 0), iw * ih, 0.0)
    union = (d[:, 2] * d[:, 3])[:, None] + (g[:, 2] * g[:, 3])[None, :] - inter
    return np.where(inter > 0, inter / np.where(union > 0, union, 1), 0.0)


def coco_map(det, gt, n_images, C):
    thr = np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True)
    rec = np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1, endpoint=True)
    T, R = len(thr), len(rec)
    prec = -np.ones((T, R, C))
    for c in range(C):
        scores, hits, npos = [], [], 0
        for img in range(n_images):
            g = gt[(gt[:, 0] == img) & (gt[:, 1] == c)]
            dd = det[(det[:, 0] == img) & (det[:, 1] == c)]
            dd = dd[np.argsort(-dd[:, 2], kind="mergesort")][:100]
            npos += len(g)
            to_xywh = lambda b: np.stack([b[:, 0], b[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], 1)  # noqa: E731
            ious = iou_xywh(to_xywh(dd[:, 3:7]), to_xywh(g[:, 2:6])) if len(dd) and len(g) else np.zeros((len(dd), len(g)))
            h = np.zeros((T, len(dd)), bool)
            for ti, t in enumerate(thr):
                used = np.zeros(len(g), bool)
                for di in range(len(dd)):
                    ok = np.where(~used & (ious[di] >= min(t, 1 - 1e-10)))[0]
                    if not len(ok):
                        continue
                    vals = ious[di, ok]
                    best = ok[np.flatnonzero(vals == vals.max())[-1]]  # the last of the best
                    used[best] = True
                    h[ti, di] = True
            scores.append(dd[:, 2])
            hits.append(h)
        if npos == 0:
            continue
        s = np.concatenate(scores)
        h = np.concatenate(hits, 1)[:, np.argsort(-s, kind="mergesort")]
        tp = np.cumsum(h, 1).astype(float)
        fp = np.cumsum(~h, 1).astype(float)
        for ti in range(T):
            if tp.shape[1] == 0:
                prec[ti, :, c] = 0
                continue
            rc = tp[ti] / npos
            pr = tp[ti] / (tp[ti] + fp[ti] + np.spacing(1))
            pr = np.maximum.accumulate(pr[::-1])[::-1]
            idx = np.searchsorted(rc, rec, side="left")
            prec[ti, :, c] = np.where(idx < len(pr), pr[np.minimum(idx, len(pr) - 1)], 0.0)
    valid = prec[0, 0] > -1
    mean = lambda a: a[a > -1].mean() if (a > -1).any() else -1  # noqa: E731
    ap = np.where(valid, prec.mean((0, 1)), -1)
    ap50 = np.where(valid, prec[0].mean(0), -1)
    return np.concatenate([[mean(prec), mean(prec[0]), mean(prec[5]), valid.sum()], ap, ap50])


def random_scenes(rng, n_images, C, gt_classes, dup_p, fp_max, good=False):
    """scores on a 1/16 grid (many ties); good: real detections score higher than the rest"""
    tp_lo, fp_hi = (0.4, 0.6) if good else (0.0, 1.0)
    det, gt = [], []
    for img in range(n_images):
        for _ in range(rng.integers(0, 5)):
            s = rng.integers(10, 40)
            x, y = rng.integers(0, 96 - s, 2)
            w, h = s - rng.integers(0, 6), s - rng.integers(0, 6)
            c = rng.integers(0, gt_classes)
            gt.append([img, c, x, y, x + w, y + h])
            for k in range(1 + (rng.random() < dup_p)):
                if rng.random() < 0.15 and k == 0:
                    continue  # missed
                j = rng.normal(0, 2.5 + 4 * k, 4)
                dc = c if rng.random() > 0.1 else rng.integers(0, C)
                det.append([img, dc, np.floor(rng.uniform(tp_lo, 1) * 16) / 16, x + j[0], y + j[1], x + w + j[2], y + h + j[3]])
        for _ in range(rng.integers(0, fp_max + 1)):
            x0, y0 = rng.uniform(0, 70, 2)
            det.append([img, rng.integers(0, C), np.floor(rng.uniform(0, fp_hi) * 16) / 16, x0, y0,
                        x0 + rng.uniform(5, 26), y0 + rng.uniform(5, 26)])
    det = np.array(det, dtype=np.float64).reshape(-1, 7)
    det[:, 5] = np.maximum(det[:, 5], det[:, 3])
    det[:, 6] = np.maximum(det[:, 6], det[:, 4])
    return det, np.array(gt, dtype=np.float64).reshape(-1, 6)


def save_map_case(out, name, det, gt, n_images, C):
    d = os.path.join(out, "det", "map", name)
    os.makedirs(d, exist_ok=True)
    det = det.astype(np.float32).astype(np.float64)
    gt = gt.astype(np.float32).astype(np.float64)
    save(d, "det", det.reshape(-1, 7))
    save(d, "gt", gt.reshape(-1, 6))
    save(d, "meta", np.array([n_images, C]))
    save(d, "result", coco_map(det.reshape(-1, 7), gt.reshape(-1, 6), n_images, C))


def make_map(out):
    rng = np.random.default_rng(1820)
    # class 4 is only ever detected, never in the ground truth
    det, gt = random_scenes(rng, 40, 5, 4, 0.2, 3)
    save_map_case(out, "random", det, gt, 40, 5)
    det, gt = random_scenes(rng, 200, 10, 10, 0.1, 2, good=True)
    save_map_case(out, "scenes", det, gt, 200, 10)
    # more than 100 detections of one class in an image: only the best 100 count
    det, gt = [], []
    for img in range(3):
        for k in range(4):
            gt.append([img, 0, 20 * k, 10, 20 * k + 15, 30])
        for k in range(150):
            x, y = rng.uniform(0, 70, 2)
            det.append([img, 0, rng.random(), x, y, x + 15, y + 20])
        for k in range(4):
            det.append([img, 0, 0.001 * k, 20 * k, 10, 20 * k + 15, 30])  # exact, but scored last
    save_map_case(out, "cap100", np.array(det), np.array(gt), 3, 2)
    # a detection between two ground truths at equal IoU (0.82) takes the last one, so the next
    # (IoU 1 with the first, 0.67 with the second) is a true positive at every threshold
    gt = np.array([[0, 0, 0, 0, 10, 10], [0, 0, 2, 0, 12, 10]])
    det = np.array([[0, 0, 0.9, 1, 0, 11, 10], [0, 0, 0.8, 0, 0, 10, 10]])
    save_map_case(out, "equal_iou", det, gt, 1, 1)
    # ties in score across images: image order decides
    gt = np.array([[0, 0, 0, 0, 10, 10], [1, 0, 0, 0, 10, 10], [1, 1, 5, 5, 30, 30]])
    det = np.array([[0, 0, 0.5, 0, 0, 10, 10], [1, 0, 0.5, 50, 50, 60, 60], [1, 0, 0.5, 0, 0, 10, 10],
                    [0, 0, 0.5, 40, 40, 44, 44], [1, 1, 0.7, 6, 6, 30, 29], [1, 1, 0.7, 6, 6, 30, 30]])
    save_map_case(out, "score_ties", det, gt, 2, 3)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    make_hungarian(args.out)
    make_loss(args.out)
    make_map(args.out)
    print(f"detection fixtures in {args.out}/det")


if __name__ == "__main__":
    main()
