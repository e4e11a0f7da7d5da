#!/usr/bin/env python3
"""vitc benchmark against PyTorch and ONNX Runtime on identical random-weight ViTs (bench/run.sh runs this).

1. Builds each model once with tests/ref/vit_ref.py (seeded random weights, timm names) into
   WORK/<model>.safetensors, and exports the same weights to WORK/<model>.onnx (opset 17).
2. Checks the three engines agree on the logits of one seeded input (fails if any differs by > 1e-3).
3. Measures the CPU clock and the fp32 peak under load (bench/clock.c): the FMA throughput of independent
   chains on all threads at the vector width of vitc's kernel set, not pipes x lanes assumed.
4. Times every (model, batch) with vitc, PyTorch (every mode) and ONNX Runtime, interleaved over several
   rounds, each measurement in a fresh process; quotes the median over rounds of each round's median.
5. Prints a Markdown table and writes it to bench/results.md, the raw data to bench/results.json.

Int8 engines (not in the default list; --engines vitc,ort,ort-int8,vitc-int8 ...):
  ort-int8   ONNX Runtime on WORK/<model>.int8.onnx, the fp32 export dynamically quantized by bench/onnx_int8.py
             (MatMul/Gemm -> DynamicQuantizeLinear + MatMulInteger, int8 weights per output channel; needs
             Debian's python3-onnx), timed as `ort` is.
  vitc-int8  `vitc bench` on WORK/<model>.q8.safetensors, written by `vitc quantize`; skipped, with a message,
             where this vitc has no working `quantize` command.
  Their agreement with PyTorch eager (fp32) is cosine similarity and top-1 agreement of the logits (fails
  below a cosine of 0.99, INT8_MIN_COS); the report adds a table of int8 ratios.
"""
import argparse
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "ref"))

MODELS = {  # key: (display name, Cfg keyword arguments, seed)
    "ti": ("ViT-Ti/16", dict(dim=192, depth=12, heads=3, num_classes=1000), 101),
    "s": ("ViT-S/16", dict(dim=384, depth=12, heads=6, num_classes=1000), 102),
    "b": ("ViT-B/16", dict(dim=768, depth=12, heads=12, num_classes=1000), 103),
}
TOL = 1e-3
INT8_MIN_COS = 0.99  # an int8 engine whose logits' cosine similarity to fp32 falls below this fails
ENGINES = ("vitc", "torch", "ort", "ort-int8", "vitc-int8")
# First guess of each engine's speed (GFLOP/s) to size the first measurement; replaced by measurements.
SPEED_GUESS = {"vitc": 5.0, "torch": 50.0, "ort": 50.0, "ort-int8": 80.0, "vitc-int8": 8.0}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def run_json(cmd, timeout):
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])}... failed (exit {p.returncode}): {p.stderr.strip()[-500:]}")
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if not lines:
        raise RuntimeError(f"{' '.join(cmd[:3])}... printed no JSON: {p.stdout[-300:]} {p.stderr[-300:]}")
    r = json.loads(lines[-1])
    r["_wall_s"] = time.time() - t0
    return r


def flops_per_image(cfg, size=224, patch=16):
    """2 x multiply-adds of the forward pass, attention included (as vitc_model_flops counts)."""
    D, L, C = cfg["dim"], cfg["depth"], cfg["num_classes"]
    H = 4 * D
    N = (size // patch) ** 2
    T = N + 1
    per_block = T * D * 3 * D + 2 * T * T * D + T * D * D + 2 * T * D * H
    return 2.0 * (N * 3 * patch * patch * D + L * per_block + D * C)


def make_models(keys, work, torch_threads):
    import torch
    from vit_ref import Cfg, RefViT, randomize, write_safetensors

    sys.path.insert(0, HERE)
    from torch_peer import Logits

    torch.set_num_threads(torch_threads)
    for k in keys:
        name, cfg, seed = MODELS[k]
        st, onnx = os.path.join(work, f"{k}.safetensors"), os.path.join(work, f"{k}.onnx")
        stamp = os.path.join(work, f"{k}.json")
        want = json.dumps({"cfg": cfg, "seed": seed, "torch": torch.__version__})
        if os.path.exists(st) and os.path.exists(onnx) and os.path.exists(stamp) and open(stamp).read() == want:
            continue
        log(f"bench: building {name} (random weights, seed {seed}) and exporting ONNX")
        m = RefViT(Cfg(**cfg))
        randomize(m, seed)
        m.eval()
        write_safetensors(st, m.state_dict())
        x = torch.zeros(1, 3, 224, 224)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)  # the size test in pos_embed_for: fixed 224
            torch.onnx.export(Logits(m).eval(), x, onnx, opset_version=17, input_names=["input"],
                              output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
        with open(stamp, "w") as f:
            f.write(want)


def int8_onnx_path(work, k):
    return os.path.join(work, f"{k}.int8.onnx")


def q8_path(work, k):
    return os.path.join(work, f"{k}.q8.safetensors")


def make_int8_onnx(keys, work, reduce_range=False):
    """WORK/<model>.int8.onnx from WORK/<model>.onnx (bench/onnx_int8.py), rebuilt when the fp32 export, the
    quantizer or its options change (a stamp beside it, as make_models keeps)."""
    import hashlib
    try:
        import onnx
    except ImportError:
        sys.exit("bench: the ort-int8 engine needs Debian's python3-onnx (apt-get install python3-onnx)")
    sys.path.insert(0, HERE)
    import onnx_int8

    src_hash = hashlib.sha256(open(os.path.join(HERE, "onnx_int8.py"), "rb").read()).hexdigest()[:16]
    for k in keys:
        src, dst = os.path.join(work, f"{k}.onnx"), int8_onnx_path(work, k)
        stamp = os.path.join(work, f"{k}.int8.json")
        st = os.stat(src)
        want = json.dumps({"fp32": open(os.path.join(work, f"{k}.json")).read(), "fp32_size": st.st_size,
                           "fp32_mtime_ns": st.st_mtime_ns, "quantizer": src_hash, "onnx": onnx.__version__,
                           "reduce_range": reduce_range})
        if os.path.exists(dst) and os.path.exists(stamp) and open(stamp).read() == want:
            continue
        log(f"bench: quantizing {MODELS[k][0]} for ort-int8 (bench/onnx_int8.py"
            f"{' --reduce-range' if reduce_range else ''})")
        s = onnx_int8.quantize_file(src, dst, reduce_range=reduce_range)
        log(f"bench: {dst}: {s['MatMul']} MatMul + {s['Gemm']} Gemm int8, {s['bytes_out'] / 1e6:.1f} MB "
            f"(fp32 {s['bytes_in'] / 1e6:.1f} MB)")
        with open(stamp, "w") as f:
            f.write(want)


def make_vitc_q8(keys, a, work):
    """WORK/<model>.q8.safetensors by `vitc quantize`, redone when the checkpoint or the vitc binary changes (a
    stamp beside it). Returns False, having logged why, where this vitc cannot quantize or run the result yet."""
    for k in keys:
        st, q8 = os.path.join(work, f"{k}.safetensors"), q8_path(work, k)
        stamp = os.path.join(work, f"{k}.q8.json")
        try:
            s, v = os.stat(st), os.stat(a.vitc)
            want = json.dumps({"fp32": open(os.path.join(work, f"{k}.json")).read(), "fp32_size": s.st_size,
                               "fp32_mtime_ns": s.st_mtime_ns, "vitc": os.path.abspath(a.vitc),
                               "vitc_size": v.st_size, "vitc_mtime_ns": v.st_mtime_ns})
            if not (os.path.exists(q8) and os.path.exists(stamp) and open(stamp).read() == want):
                log(f"bench: {a.vitc} quantize {st} --out {q8}")
                p = subprocess.run([a.vitc, "quantize", st, "--out", q8], capture_output=True, text=True,
                                   timeout=a.timeout)
                if p.returncode:
                    msg = (p.stderr.strip() or p.stdout.strip()).splitlines()
                    log(f"bench: skipping engine vitc-int8: `vitc quantize` failed (exit {p.returncode}): "
                        f"{msg[-1] if msg else 'no message'}")
                    return False
                with open(stamp, "w") as f:
                    f.write(want)
            # One short pass, so that a quantized file vitc cannot run yet skips the engine instead of failing.
            run_json([a.vitc, "bench", q8, "--batch", "1", "--threads", "1", "--iters", "1", "--warmup", "0",
                      "--json"], a.timeout)
        except (OSError, RuntimeError, subprocess.TimeoutExpired) as e:
            log(f"bench: skipping engine vitc-int8: {str(e).strip().splitlines()[-1]}")
            return False
    return True


def agreement(keys, a, work):
    """Max abs logit difference of vitc, every PyTorch mode and ORT against PyTorch eager."""
    out = {}
    for k in keys:
        name, cfg, _ = MODELS[k]
        n = 1 if k == "b" else 2
        x = np.random.default_rng(7).uniform(-1, 1, size=(n, 3, 224, 224)).astype(np.float32)
        xin, tl, ol = (os.path.join(work, f"agree_{k}.{e}") for e in ("npy", "torch.npy", "ort.f32"))
        np.save(xin, x)
        x.tofile(xin[:-3] + "f32")
        st = os.path.join(work, f"{k}.safetensors")
        tr = run_json([a.python, os.path.join(HERE, "torch_peer.py"), st, "--cfg", json.dumps(cfg), "--input", xin,
                       "--logits-out", tl, "--threads", str(a.threads), "--iters", "1", "--warmup", "0"], a.timeout)
        ref = np.load(tl)
        d = {"images": n}
        for mode, r in tr["modes"].items():
            d[f"torch_{mode}"] = r["max_abs_diff_vs_eager"]
        if "vitc" in a.engines:
            p = subprocess.run([a.vitc, "classify", st, xin, "--json", "--logits", "--top", "1", "--threads",
                                str(a.threads)], capture_output=True, text=True, timeout=a.timeout)
            if p.returncode:
                raise RuntimeError(f"vitc classify failed: {p.stderr.strip()}")
            v = np.array([json.loads(l)["logits"] for l in p.stdout.splitlines() if l.startswith("{")], np.float32)
            d["vitc"] = float(np.abs(v - ref).max())
        if "ort" in a.engines:
            run_json(["node", os.path.join(HERE, "ort_peer.js"), os.path.join(work, f"{k}.onnx"), "--input",
                      xin[:-3] + "f32", "--logits-out", ol, "--threads", str(a.threads), "--iters", "0",
                      "--warmup", "0"], a.timeout)
            o = np.fromfile(ol, np.float32).reshape(ref.shape)
            d["ort"] = float(np.abs(o - ref).max())
        d["logit_scale"] = float(np.abs(ref).max())
        out[k] = d
        log(f"bench: agreement {name}: " + ", ".join(f"{e} {v:.2e}" for e, v in d.items() if e not in ("images",
                                                                                                      "logit_scale"))
            + f" (max |logit| {d['logit_scale']:.2f})")
    return out


def agreement_int8(keys, a, work):
    """Cosine similarity and top-1 agreement of the int8 engines' logits with PyTorch eager (fp32), on the
    seeded input of agreement() (its files in WORK)."""
    sys.path.insert(0, HERE)
    from onnx_int8 import agreement as compare

    out = {}
    for k in keys:
        xin = os.path.join(work, f"agree_{k}.npy")
        ref = np.load(os.path.join(work, f"agree_{k}.torch.npy"))
        d = {}
        if "ort-int8" in a.engines:
            ol = os.path.join(work, f"agree_{k}.ort-int8.f32")
            run_json(["node", os.path.join(HERE, "ort_peer.js"), int8_onnx_path(work, k), "--input",
                      xin[:-3] + "f32", "--logits-out", ol, "--threads", str(a.threads), "--iters", "0",
                      "--warmup", "0"], a.timeout)
            d["ort-int8"] = compare(ref, np.fromfile(ol, np.float32).reshape(ref.shape))
        if "vitc-int8" in a.engines:
            p = subprocess.run([a.vitc, "classify", q8_path(work, k), xin, "--json", "--logits", "--top", "1",
                                "--threads", str(a.threads)], capture_output=True, text=True, timeout=a.timeout)
            if p.returncode:
                raise RuntimeError(f"vitc classify (int8) failed: {p.stderr.strip()}")
            v = np.array([json.loads(l)["logits"] for l in p.stdout.splitlines() if l.startswith("{")], np.float32)
            d["vitc-int8"] = compare(ref, v.reshape(ref.shape))
        out[k] = d
        for e, r in d.items():
            log(f"bench: agreement {MODELS[k][0]} {e} vs PyTorch eager fp32: cosine {r['cosine_mean']:.5f} (min "
                f"{r['cosine_min']:.5f}), top-1 {r['top1_agree_count']}/{r['images']}, max abs diff "
                f"{r['max_abs_diff']:.3f}")
    return out


def measure_clock(threads, work, bits):
    exe = os.path.join(work, "clock")
    src = os.path.join(HERE, "clock.c")
    if not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(src):
        subprocess.run([os.environ.get("CC", "cc"), "-O2", "-fopenmp", src, "-o", exe], check=True)
    return json.loads(subprocess.run([exe, str(threads), "200", str(bits)], capture_output=True, text=True,
                                     check=True).stdout)


def cpu_info():
    """CPU model, family/model numbers and the ISA extensions that matter to the kernels (/proc/cpuinfo)."""
    info = {"model": platform.processor() or "?", "family": "?", "model_number": "?", "isa": []}
    try:
        fields = {}
        for line in open("/proc/cpuinfo"):
            if not line.strip():
                break  # the first processor is enough
            k, _, v = line.partition(":")
            fields[k.strip()] = v.strip()
        flags = set(fields.get("flags", "").split())
        info.update(model=fields.get("model name", info["model"]), family=fields.get("cpu family", "?"),
                    model_number=fields.get("model", "?"))
        info["isa"] = [f for f in ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512dq",
                                   "avx512vl", "avx512_bf16") if f in flags]
    except OSError:
        pass
    return info


def vitc_kernel(a, keys, work):
    """The kernel set vitc runs here (it prints it in every bench result): one short pass of the smallest model."""
    st = os.path.join(work, f"{keys[0]}.safetensors")
    return run_json([a.vitc, "bench", st, "--batch", "1", "--threads", "1", "--iters", "1", "--warmup", "0",
                     "--json"], a.timeout)["kernel"]


KERNEL_BITS = {"avx512": 512, "avx2": 256}  # vector width of each kernel set's FMAs (ref: 128-bit SSE code)


def plan(est_s, a):
    """Timed passes and warm-up passes for a measurement expected to take est_s per pass."""
    iters = max(1, min(a.max_iters, math.ceil(a.target_s / max(est_s, 1e-4))))
    warmup = 1 if est_s < 5 else 0  # a cold first pass is negligible next to a pass this long
    return iters, warmup


def run_rounds(keys, batches, a, work, flops, after_round=None):
    res = {}  # (k, batch) -> engine -> list of per-round dicts
    speed = dict(SPEED_GUESS)
    last = {}  # (engine, k, batch) -> s per pass
    for rnd in range(a.rounds):
        for k in keys:
            name, cfg, _ = MODELS[k]
            st, onnx = os.path.join(work, f"{k}.safetensors"), os.path.join(work, f"{k}.onnx")
            for b in batches:
                cell = res.setdefault(f"{k}/b{b}", {})
                for eng in a.engines:
                    est = last.get((eng, k, b), flops[k] * b / (speed[eng] * 1e9))
                    iters, warmup = plan(est, a)
                    if eng in ("vitc", "vitc-int8"):
                        path = st if eng == "vitc" else q8_path(work, k)
                        r = run_json([a.vitc, "bench", path, "--batch", str(b), "--threads", str(a.threads), "--iters",
                                      str(iters), "--warmup", str(warmup), "--json"], a.timeout)
                        per_pass = r["ms_per_batch"] / 1e3
                        row = {"ms_per_image": r["ms_per_image"], "iters": iters, "warmup": warmup, "raw": r}
                    elif eng == "torch":
                        r = run_json([a.python, os.path.join(HERE, "torch_peer.py"), st, "--cfg", json.dumps(cfg),
                                      "--batch", str(b), "--threads", str(a.threads), "--iters", str(iters),
                                      "--warmup", str(warmup), "--modes", a.torch_modes], a.timeout)
                        row = {"modes": {m: statistics.median(v["times_ms"]) / b for m, v in r["modes"].items()},
                               "iters": iters, "warmup": warmup, "raw": r}
                        row["ms_per_image"] = row["modes"].get("eager", min(row["modes"].values()))
                        per_pass = row["ms_per_image"] * b / 1e3
                    else:
                        path = onnx if eng == "ort" else int8_onnx_path(work, k)
                        r = run_json(["node", os.path.join(HERE, "ort_peer.js"), path, "--batch", str(b), "--threads",
                                      str(a.threads), "--iters", str(iters), "--warmup", str(warmup)], a.timeout)
                        row = {"ms_per_image": statistics.median(r["times_ms"]) / b, "iters": iters,
                               "warmup": warmup, "raw": r}
                        per_pass = row["ms_per_image"] * b / 1e3
                    last[(eng, k, b)] = per_pass
                    speed[eng] = flops[k] * b / per_pass / 1e9
                    cell.setdefault(eng, []).append(row)
                    log(f"bench: round {rnd + 1}/{a.rounds} {name} b{b} {eng}: {row['ms_per_image']:.2f} ms/img "
                        f"({iters} passes)" + (" " + ", ".join(f"{m} {v:.2f}" for m, v in row["modes"].items())
                                               if eng == "torch" else ""))
        if after_round:
            after_round(res, rnd + 1)
    return res


def fmt(v, d=2):
    return "–" if v is None else f"{v:.{d}f}"


def summarize(keys, batches, res, flops, peak, a):
    rows = []
    for k in keys:
        for b in batches:
            cell = res[f"{k}/b{b}"]
            med = {e: statistics.median(r["ms_per_image"] for r in v) for e, v in cell.items()}
            row = {"model": MODELS[k][0], "key": k, "batch": b, "flops_per_image": flops[k]}
            row["vitc"] = med.get("vitc")
            if "torch" in cell:
                modes = {m: statistics.median(r["modes"][m] for r in cell["torch"]) for m in cell["torch"][0]["modes"]}
                row["torch_modes"] = modes
                row["torch_eager"] = modes.get("eager")
                row["torch_best_mode"] = min(modes, key=modes.get)
                row["torch_best"] = modes[row["torch_best_mode"]]
            row["ort"] = med.get("ort")
            for e in ("ort-int8", "vitc-int8"):
                if e in med:
                    row[e.replace("-", "_")] = med[e]
            for e in ("vitc", "torch_eager", "torch_best", "ort", "ort_int8", "vitc_int8"):
                if row.get(e):
                    row[f"{e}_gflops"] = flops[k] / (row[e] * 1e-3) / 1e9
                    row[f"{e}_pct_peak"] = 100 * row[f"{e}_gflops"] / peak
            if "vitc" in cell:
                last = cell["vitc"][-1]["raw"]
                row["vitc_peak_rss_mb"] = max(r["raw"]["peak_rss_mb"] for r in cell["vitc"])
                row["vitc_load_ms"] = statistics.median(r["raw"]["load_ms"] for r in cell["vitc"])
                row["checkpoint_mb"] = last["file_mb"]
                row["kernel"] = last["kernel"]
            if "vitc-int8" in cell:
                row["vitc_int8_peak_rss_mb"] = max(r["raw"]["peak_rss_mb"] for r in cell["vitc-int8"])
                row["vitc_int8_load_ms"] = statistics.median(r["raw"]["load_ms"] for r in cell["vitc-int8"])
                row["q8_checkpoint_mb"] = cell["vitc-int8"][-1]["raw"]["file_mb"]
            rows.append(row)
    return rows


def int8_table(rows, agree_int8, meta):
    """The int8 engines' section of the report (empty where neither ran)."""
    if not any(r.get("ort_int8") or r.get("vitc_int8") for r in rows):
        return []

    def ratio(peer, v):
        return "–" if not peer or not v else f"{peer / v:.2f}×"

    L = ["\n## int8\n", "Dynamic int8: weights int8 per output channel, activations quantized at run time (ORT: per "
         "tensor, uint8 with a zero point; vitc: per token, uint8 with a zero point, exact int32 sums). ORT int8: the fp32 export rewritten by bench/onnx_int8.py (every weight MatMul/Gemm as "
         "DynamicQuantizeLinear + MatMulInteger, which onnxruntime fuses into DynamicQuantizeMatMul; "
         f"{'7-bit weights (--ort-int8-reduce-range)' if meta.get('ort_int8_reduce_range') else '8-bit weights'}"
         "; the patch embedding and attention's activation products stay fp32). vitc int8: `vitc quantize` (the "
         "blocks' Linear layers; patch embedding, attention's products and the head stay fp32). "
         "'A / B' columns are A's ms over B's; 'X vs Y' columns are Y's ms over X's, as in the tables above: "
         "above 1 means the int8 engine (B, X) is faster.\n",
         "| model | batch | ORT fp32 | ORT int8 | ORT fp32 / int8 | vitc fp32 | vitc int8 | vitc fp32 / int8 "
         "| vitc-int8 vs ORT-int8 | vitc-int8 vs ORT fp32 | vitc int8 GFLOP/s (fp32-equivalent) |",
         "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        L.append(f"| {r['model']} | {r['batch']} | {fmt(r.get('ort'))} | {fmt(r.get('ort_int8'))} | "
                 f"{ratio(r.get('ort'), r.get('ort_int8'))} | {fmt(r.get('vitc'))} | {fmt(r.get('vitc_int8'))} | "
                 f"{ratio(r.get('vitc'), r.get('vitc_int8'))} | {ratio(r.get('ort_int8'), r.get('vitc_int8'))} | "
                 f"{ratio(r.get('ort'), r.get('vitc_int8'))} | {fmt(r.get('vitc_int8_gflops'), 1)} |")
    mem = [r for r in rows if r.get("vitc_int8_peak_rss_mb")]
    if mem:
        L.append("\nvitc int8 peak RSS and load time:\n")
        L.append("| model | batch | peak RSS MB | int8 checkpoint MB | fp32 checkpoint MB | load ms |")
        L.append("|---|---:|---:|---:|---:|---:|")
        for r in mem:
            L.append(f"| {r['model']} | {r['batch']} | {r['vitc_int8_peak_rss_mb']:.1f} | {r['q8_checkpoint_mb']:.1f} "
                     f"| {fmt(r.get('checkpoint_mb'), 1)} | {r['vitc_int8_load_ms']:.1f} |")
    if agree_int8 and any(agree_int8.values()):
        L.append("\nint8 agreement with PyTorch eager fp32 on the seeded input of the agreement check (cosine "
                 f"similarity of the logits per image; fails below {INT8_MIN_COS:g}; top-1: same class as fp32):\n")
        L.append("| model | engine | images | cosine mean | cosine min | top-1 agree | max abs diff |")
        L.append("|---|---|---:|---:|---:|---:|---:|")
        for k, d in agree_int8.items():
            for e, v in d.items():
                L.append(f"| {MODELS[k][0]} | {e} | {v['images']} | {v['cosine_mean']:.5f} | {v['cosine_min']:.5f} "
                         f"| {v['top1_agree_count']}/{v['images']} | {v['max_abs_diff']:.3f} |")
    return L


def table(rows, clock, peak, agree, a, meta, done, agree_int8=None):
    L = []
    L.append(f"# vitc benchmark — {meta['date']}\n")
    c = meta["cpu_info"]
    L.append(f"Machine: {meta['cpu']} (family {c['family']} model {c['model_number']}; ISA "
             f"{' '.join(c['isa']) or '?'}), {meta['cores']} cores; {a.threads} threads for every engine; vitc kernel "
             f"set **{meta.get('kernel', '?')}**. Clock under load {clock['ghz']:.2f} GHz (dependent-add chain; FMA "
             f"latency {clock['fma_latency_cycles']:.1f} cycles). fp32 peak measured, not assumed: "
             f"{clock['fma_bits']}-bit FMAs in 12 independent chains on all {a.threads} threads "
             f"(bench/clock.c), **{peak:.0f} GFLOP/s** ({clock['flops_per_cycle_per_thread']:.1f} flops per cycle "
             f"per thread).\n")
    blas = meta.get("torch_blas") or {}
    L.append(f"vitc kernels: {meta.get('kernel', '?')}; PyTorch {meta.get('torch', '?')} (Debian; BLAS "
             f"{blas.get('name', '?')}, 512³ matmul {blas.get('matmul512_gflops', '?')} GFLOP/s); "
             f"onnxruntime-node {meta.get('ort', '?')}. Command: `{meta['command']}`. "
             f"{done} interleaved round{'s' if done > 1 else ''} (vitc, PyTorch, ORT per model and batch)"
             f"{'' if done == a.rounds else f' of {a.rounds} planned (interrupted)'}, each measurement a fresh "
             "process; ms per image is the median over rounds of each round's median. Random-weight models "
             "from tests/ref/vit_ref.py, identical weights in every engine, random normalized 224×224 input.\n")
    L.append("| model | batch | vitc ms/img | PyTorch eager | PyTorch best | ORT | vitc GFLOP/s | vitc % peak "
             "| vitc vs eager | vitc vs best | vitc vs ORT |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")

    def ratio(peer, v):
        return "–" if not peer or not v else f"{peer / v:.2f}×"

    for r in rows:
        best = f"{fmt(r.get('torch_best'))} ({r['torch_best_mode']})" if r.get("torch_best") else "–"
        L.append(f"| {r['model']} | {r['batch']} | {fmt(r.get('vitc'))} | {fmt(r.get('torch_eager'))} | {best} | "
                 f"{fmt(r.get('ort'))} | {fmt(r.get('vitc_gflops'), 1)} | {fmt(r.get('vitc_pct_peak'), 1)}% | "
                 f"{ratio(r.get('torch_eager'), r.get('vitc'))} | {ratio(r.get('torch_best'), r.get('vitc'))} | "
                 f"{ratio(r.get('ort'), r.get('vitc'))} |")
    L.append("\nRatios are peer ms / vitc ms: above 1 means vitc is faster.\n")
    L.append("GFLOP/s (% of peak) for every engine, FLOPs = 2 × multiply-adds of the forward pass:\n")
    L.append("| model | batch | GFLOP/img | vitc | PyTorch eager | PyTorch best | ORT |")
    L.append("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        cells = []
        for e in ("vitc", "torch_eager", "torch_best", "ort"):
            g = r.get(f"{e}_gflops")
            cells.append("–" if g is None else f"{g:.1f} ({r[f'{e}_pct_peak']:.1f}%)")
        L.append(f"| {r['model']} | {r['batch']} | {r['flops_per_image'] / 1e9:.2f} | " + " | ".join(cells) + " |")
    mem = [r for r in rows if r.get("vitc_peak_rss_mb")]
    if mem:
        L.append("\nvitc peak RSS (whole process: weights mapped from the checkpoint, activations, code) and load "
                 "time; target RSS ≤ 1.15 × the f32 checkpoint at batch 1:\n")
        L.append("| model | batch | peak RSS MB | checkpoint MB | ratio | load ms |")
        L.append("|---|---:|---:|---:|---:|---:|")
        for r in mem:
            ratio_ = r["vitc_peak_rss_mb"] / r["checkpoint_mb"]
            flag = " ✗" if r["batch"] == 1 and ratio_ > 1.15 else ""
            L.append(f"| {r['model']} | {r['batch']} | {r['vitc_peak_rss_mb']:.1f} | {r['checkpoint_mb']:.1f} | "
                     f"{ratio_:.3f}{flag} | {r['vitc_load_ms']:.1f} |")
    if agree:
        L.append("\nAgreement on the logits of one seeded input (max abs difference from PyTorch eager; "
                 f"fails above {TOL:g}):\n")
        engines = [e for e in next(iter(agree.values())) if e not in ("images", "logit_scale")]
        L.append("| model | images | max abs logit | " + " | ".join(engines) + " |")
        L.append("|---|---:|---:|" + "---:|" * len(engines))
        for k, d in agree.items():
            L.append(f"| {MODELS[k][0]} | {d['images']} | {d['logit_scale']:.2f} | "
                     + " | ".join(f"{d[e]:.1e}" for e in engines) + " |")
    if any(r.get("torch_modes") for r in rows):
        modes = list(next(r for r in rows if r.get("torch_modes"))["torch_modes"])
        L.append("\nPyTorch modes, ms per image (eager: no_grad; inference: inference_mode; jit_freeze: "
                 "trace + freeze; jit_opt: trace + optimize_for_inference (oneDNN); jit_opt_cl: jit_opt with a "
                 "channels-last input):\n")
        L.append("| model | batch | " + " | ".join(modes) + " |")
        L.append("|---|---:|" + "---:|" * len(modes))
        for r in rows:
            if r.get("torch_modes"):
                L.append(f"| {r['model']} | {r['batch']} | "
                         + " | ".join(fmt(r["torch_modes"].get(m)) for m in modes) + " |")
    L += int8_table(rows, agree_int8, meta)
    return "\n".join(L) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke test: ViT-Ti/S, 2 rounds, short measurements")
    ap.add_argument("--models", help="comma list of ti,s,b (default ti,s,b; --quick: ti,s)")
    ap.add_argument("--batches", default="1,8", help="comma list of batch sizes (default 1,8)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, help="interleaved rounds (default 3; --quick: 2)")
    ap.add_argument("--target-s", type=float, help="seconds of timed passes per measurement (default 4; quick 1)")
    ap.add_argument("--max-iters", type=int, help="most timed passes per measurement (default 30; quick 5)")
    ap.add_argument("--engines", default="vitc,torch,ort", help="comma list of vitc,torch,ort,ort-int8,vitc-int8 "
                    "(default vitc,torch,ort)")
    ap.add_argument("--ort-int8-reduce-range", action="store_true", help="ort-int8 with 7-bit weights "
                    "(onnx_int8.py --reduce-range: avoids the u8s8 saturation of x86 CPUs without VNNI)")
    ap.add_argument("--torch-modes", default="eager,inference,jit_freeze,jit_opt,jit_opt_cl")
    ap.add_argument("--no-agree", action="store_true", help="skip the logit agreement check")
    ap.add_argument("--vitc", default=os.path.join(ROOT, "build", "vitc"))
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--work", default=os.path.join(HERE, "work"))
    ap.add_argument("--out", default=HERE, help="folder for results.md and results.json")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds allowed per measurement process")
    ap.add_argument("--command", default="bench/run.sh", help="command line recorded in the results")
    a = ap.parse_args()
    a.rounds = a.rounds or (2 if a.quick else 3)
    a.target_s = a.target_s or (1.0 if a.quick else 4.0)
    a.max_iters = a.max_iters or (5 if a.quick else 30)
    keys = (a.models or ("ti,s" if a.quick else "ti,s,b")).split(",")
    a.engines = a.engines.split(",")
    for k in keys:
        if k not in MODELS:
            sys.exit(f"bench: unknown model '{k}' (choose from {','.join(MODELS)})")
    for e in a.engines:
        if e not in ENGINES:
            sys.exit(f"bench: unknown engine '{e}' ({', '.join(ENGINES)})")
    try:
        batches = [int(b) for b in a.batches.split(",")]
        assert all(b > 0 for b in batches)
    except (ValueError, AssertionError):
        sys.exit(f"bench: --batches must be positive integers, not '{a.batches}'")
    if a.threads <= 0:
        sys.exit("bench: --threads must be positive")
    if "torch" not in a.engines and not a.no_agree:
        sys.exit("bench: the agreement check needs the torch engine (or pass --no-agree)")

    t = str(a.threads)
    os.environ.update(OMP_WAIT_POLICY="PASSIVE", OMP_NUM_THREADS=t, OPENBLAS_NUM_THREADS=t, MKL_NUM_THREADS=t,
                      VITC_NUM_THREADS=t)
    os.makedirs(a.work, exist_ok=True)
    t_start = time.time()
    make_models(keys, a.work, a.threads)
    if "ort-int8" in a.engines:
        make_int8_onnx(keys, a.work, a.ort_int8_reduce_range)
    if "vitc-int8" in a.engines and not make_vitc_q8(keys, a, a.work):
        a.engines.remove("vitc-int8")
        if not a.engines:
            sys.exit("bench: no engine left to run")
    flops = {k: flops_per_image(MODELS[k][1]) for k in keys}
    agree = {} if a.no_agree else agreement(keys, a, a.work)
    agree_int8 = {} if a.no_agree or not {"ort-int8", "vitc-int8"} & set(a.engines) else agreement_int8(keys, a,
                                                                                                        a.work)
    bad = [(k, e, v) for k, d in agree.items() for e, v in d.items() if e not in ("images", "logit_scale") and v > TOL]
    bad8 = [(k, e, v["cosine_min"]) for k, d in agree_int8.items() for e, v in d.items()
            if v["cosine_min"] < INT8_MIN_COS]
    if bad or bad8:
        for k, e, v in bad:
            log(f"bench: FAIL: {MODELS[k][0]}: {e} differs from PyTorch eager by {v:.3g} (> {TOL:g})")
        for k, e, v in bad8:
            log(f"bench: FAIL: {MODELS[k][0]}: {e} logits' cosine similarity to PyTorch eager fp32 is {v:.4f} "
                f"(< {INT8_MIN_COS:g})")
        sys.exit(1)
    kernel = vitc_kernel(a, keys, a.work) if {"vitc", "vitc-int8"} & set(a.engines) else None
    cpu = cpu_info()
    bits = KERNEL_BITS.get(kernel) or (256 if "avx2" in cpu["isa"] and "fma" in cpu["isa"] else 128)
    clock0 = measure_clock(a.threads, a.work, bits)
    log(f"bench: {cpu['model']} (family {cpu['family']} model {cpu['model_number']}; {' '.join(cpu['isa'])}); "
        f"vitc kernels {kernel}; clock under load {clock0['ghz']:.3f} GHz (FMA latency "
        f"{clock0['fma_latency_cycles']:.2f} cycles); {bits}-bit FMA peak {clock0['fma_gflops']:.1f} GFLOP/s")
    def write(res, done):
        """Tabulates the rounds done so far, so an interrupted long run still leaves results."""
        clock1 = measure_clock(a.threads, a.work, bits)
        clock = max(clock0, clock1, key=lambda c: c["fma_gflops"])
        peak = clock["fma_gflops"]
        rows = summarize(keys, batches, res, flops, peak, a)
        cpu = platform.processor() or "?"
        try:
            cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
        except (OSError, StopIteration):
            pass
        meta = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "cpu": cpu, "cores": os.cpu_count(),
                "cpu_info": cpu_info(),
                "command": a.command, "host": platform.node(), "elapsed_s": round(time.time() - t_start, 1),
                "rounds_done": done}
        any_row = next(iter(res.values()))
        if "vitc" in any_row:
            meta["kernel"] = any_row["vitc"][0]["raw"]["kernel"]
        if "torch" in any_row:
            meta["torch"] = any_row["torch"][0]["raw"]["torch"]
            meta["torch_blas"] = any_row["torch"][0]["raw"].get("blas")
            if (meta["torch_blas"] or {}).get("name", "").startswith("reference"):
                log("bench: WARNING: PyTorch runs the reference BLAS (an unfair peer); scripts/install-deps.sh "
                    "--bench installs OpenBLAS")
        if "ort" in any_row or "ort-int8" in any_row:
            meta["ort"] = any_row["ort" if "ort" in any_row else "ort-int8"][0]["raw"]["ort"]
        if "ort-int8" in any_row:
            meta["ort_int8_reduce_range"] = a.ort_int8_reduce_range
        if "vitc-int8" in any_row and "kernel" not in meta:
            meta["kernel"] = any_row["vitc-int8"][0]["raw"]["kernel"]
        md = table(rows, clock, peak, agree, a, meta, done, agree_int8)
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, "results.md"), "w") as f:
            f.write(md)
        with open(os.path.join(a.out, "results.json"), "w") as f:
            json.dump({"meta": meta, "threads": a.threads, "rounds": done, "clock": {"before": clock0,
                       "after": clock1, "used_ghz": clock["ghz"]}, "peak_gflops": peak,
                       "peak_method": f"measured {bits}-bit FMA throughput, all threads (bench/clock.c)", "agreement": agree,
                       "agreement_int8": agree_int8, "engines": a.engines,
                       "rows": rows, "measurements": res}, f, indent=1)
        log(f"bench: round {done}/{a.rounds} done: wrote {os.path.join(a.out, 'results.md')} and results.json "
            f"({meta['elapsed_s']:.0f} s)")
        return md

    last_md = []
    run_rounds(keys, batches, a, a.work, flops, lambda res, done: last_md.append(write(res, done)))
    print(last_md[-1])

if __name__ == "__main__":
    main()
