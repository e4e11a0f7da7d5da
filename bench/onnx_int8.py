#!/usr/bin/env python3
"""Dynamic int8 quantization of an fp32 ONNX model (bench/bench.py's `ort-int8` engine), with onnx + numpy only.

    bench/onnx_int8.py MODEL.onnx --out MODEL.int8.onnx [--reduce-range] [--reshape-2d]
    bench/onnx_int8.py MODEL.onnx --out MODEL.int8.onnx --compare N    (also: N seeded random images through
                                                  onnxruntime-node, fp32 against int8: cosine and top-1 agreement)

Every MatMul whose second input is a constant 2-D float weight (an initializer or a Constant node), and every
Gemm with such a B (transA = 0), becomes

    x -> DynamicQuantizeLinear -> (x_q uint8, x_scale, x_zp)
    MatMulInteger(x_q, W_q int8 [K, N], x_zp) -> Cast(float) -> Mul(., Mul(x_scale, w_scale [N])) -> y

the form onnxruntime's own quantize_dynamic writes (and its graph optimizer fuses into one
DynamicQuantizeMatMul / MatMulIntegerToFloat kernel). Weights: symmetric int8 per output channel,
w_scale[n] = max_k |W[k, n]| / 127, zero point 0 (b_zero_point left out: it defaults to 0). The bias Add that
follows a MatMul is kept as it was; a Gemm's alpha goes into w_scale and beta * C into an Add after the Mul.
Activations are quantized per tensor at run time (uint8, asymmetric; one DynamicQuantizeLinear per tensor,
shared by every MatMul that reads it). 3-D activations (batch, tokens, K) go straight into MatMulInteger
(it broadcasts as MatMul does); --reshape-2d flattens them to (-1, K) around it instead. Everything else
(the patch-embedding Conv, attention's activation x activation MatMuls, LayerNorm, Softmax, GELU) stays float.
--reduce-range quantizes weights to 7 bits (+-63), as onnxruntime's reduce_range does for the u8s8 kernels of
x86 CPUs without VNNI (whose 16-bit intermediate sums can saturate).
The output passes onnx.checker (with strict shape inference) and is written to a temporary file, then renamed.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def _const_weights(graph):
    """name -> float32 ndarray of every 2-D float initializer and Constant-node value in the graph."""
    out = {}
    for t in graph.initializer:
        if t.data_type == TensorProto.FLOAT and len(t.dims) == 2:
            out[t.name] = t
    for n in graph.node:
        if n.op_type == "Constant" and len(n.attribute) == 1 and n.attribute[0].name == "value":
            t = n.attribute[0].t
            if t.data_type == TensorProto.FLOAT and len(t.dims) == 2:
                out[n.output[0]] = t
    return out


def quantize_weight(w, qmax=127):
    """Symmetric per-output-channel int8: w is [K, N] (x @ w); returns (int8 [K, N], float32 scale [N])."""
    w = np.asarray(w, np.float32)
    amax = np.abs(w).max(axis=0)
    scale = (amax / qmax).astype(np.float32)
    scale[scale == 0] = 1.0  # an all-zero column: any scale gives zeros
    q = np.clip(np.rint(w / scale), -qmax, qmax).astype(np.int8)
    return q, scale


def quantize_model(model, reduce_range=False, reshape_2d=False, ops=("MatMul", "Gemm")):
    """Rewrites model (an onnx.ModelProto) in place; returns a dict of what was done."""
    g = model.graph
    qmax = 63 if reduce_range else 127
    weights = _const_weights(g)
    new_inits, qcache, dql, names = [], {}, {}, set()
    stats = {"MatMul": 0, "Gemm": 0, "kept_float": {}, "weights_int8_bytes": 0, "weights_fp32_bytes": 0}
    for n in g.node:
        names.update(n.output)
    for t in g.initializer:
        names.add(t.name)

    def fresh(base):
        name, i = base, 1
        while name in names:
            name, i = f"{base}_{i}", i + 1
        names.add(name)
        return name

    def qweight(wname, transpose, alpha):
        key = (wname, transpose, alpha)
        if key not in qcache:
            w = numpy_helper.to_array(weights[wname])
            if transpose:
                w = w.T
            q, s = quantize_weight(w, qmax)
            s = (s * np.float32(alpha)).astype(np.float32)
            qn, sn = fresh(f"{wname}_quantized"), fresh(f"{wname}_scale")
            new_inits.append(numpy_helper.from_array(np.ascontiguousarray(q), qn))
            new_inits.append(numpy_helper.from_array(s, sn))
            stats["weights_int8_bytes"] += q.nbytes + s.nbytes
            stats["weights_fp32_bytes"] += w.nbytes
            qcache[key] = (qn, sn, w.shape)
        return qcache[key]

    out_nodes = []
    for n in g.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        ok = n.op_type in ops and n.op_type in ("MatMul", "Gemm") and len(n.input) >= 2 and n.input[1] in weights
        if ok and n.op_type == "Gemm":
            ok = attrs.get("transA", 0) == 0
        if not ok:
            if n.op_type in ("MatMul", "Gemm"):
                why = "activation x activation" if n.input[1] not in weights else "unsupported attributes"
                stats["kept_float"][why] = stats["kept_float"].get(why, 0) + 1
            out_nodes.append(n)
            continue
        gemm = n.op_type == "Gemm"
        x, y = n.input[0], n.output[0]
        qn, sn, (K, N) = qweight(n.input[1], gemm and attrs.get("transB", 0) == 1,
                                 attrs.get("alpha", 1.0) if gemm else 1.0)
        base = (n.name or y).strip("/").replace("/", "_") or "q"
        xin = x
        if reshape_2d and not gemm:
            shape2 = fresh(f"{base}_shape2d")
            new_inits.append(numpy_helper.from_array(np.array([-1, K], np.int64), shape2))
            xin = fresh(f"{base}_x2d")
            out_nodes.append(helper.make_node("Reshape", [x, shape2], [xin], name=fresh(f"{base}_Reshape2d")))
        if xin not in dql:
            xq, xs, xz = fresh(f"{xin}_quantized"), fresh(f"{xin}_scale"), fresh(f"{xin}_zero_point")
            out_nodes.append(helper.make_node("DynamicQuantizeLinear", [xin], [xq, xs, xz],
                                              name=fresh(f"{base}_DynamicQuantizeLinear")))
            dql[xin] = (xq, xs, xz)
        xq, xs, xz = dql[xin]
        yi, yf, ys = fresh(f"{base}_int32"), fresh(f"{base}_float"), fresh(f"{base}_scale")
        out_nodes.append(helper.make_node("MatMulInteger", [xq, qn, xz], [yi], name=fresh(f"{base}_MatMulInteger")))
        out_nodes.append(helper.make_node("Cast", [yi], [yf], to=TensorProto.FLOAT, name=fresh(f"{base}_Cast")))
        out_nodes.append(helper.make_node("Mul", [xs, sn], [ys], name=fresh(f"{base}_scales_Mul")))
        bias = n.input[2] if gemm and len(n.input) > 2 and n.input[2] else None
        back = reshape_2d and not gemm
        ymul = fresh(f"{base}_scaled") if bias or back else y
        out_nodes.append(helper.make_node("Mul", [yf, ys], [ymul], name=fresh(f"{base}_Mul")))
        if back:  # (-1, N) back to x's leading dimensions, N
            xs_, lead, nn_, full = (fresh(f"{base}_{s}") for s in ("xshape", "lead", "n", "outshape"))
            for nm, v in ((f"{base}_starts", 0), (f"{base}_ends", -1)):
                new_inits.append(numpy_helper.from_array(np.array([v], np.int64), fresh(nm)))
            starts, ends = new_inits[-2].name, new_inits[-1].name
            new_inits.append(numpy_helper.from_array(np.array([N], np.int64), nn_))
            out_nodes.append(helper.make_node("Shape", [x], [xs_], name=fresh(f"{base}_Shape")))
            out_nodes.append(helper.make_node("Slice", [xs_, starts, ends], [lead], name=fresh(f"{base}_Slice")))
            out_nodes.append(helper.make_node("Concat", [lead, nn_], [full], axis=0, name=fresh(f"{base}_Concat")))
            yb = fresh(f"{base}_unflat") if bias else y
            out_nodes.append(helper.make_node("Reshape", [ymul, full], [yb], name=fresh(f"{base}_ReshapeBack")))
            ymul = yb
        if bias:
            beta = attrs.get("beta", 1.0)
            c = bias
            if beta != 1.0:
                bn = fresh(f"{base}_beta")
                new_inits.append(numpy_helper.from_array(np.array(beta, np.float32), bn))
                c = fresh(f"{base}_beta_C")
                out_nodes.append(helper.make_node("Mul", [bias, bn], [c], name=fresh(f"{base}_beta_Mul")))
            out_nodes.append(helper.make_node("Add", [ymul, c], [y], name=fresh(f"{base}_bias_Add")))
        stats[n.op_type] += 1

    del g.node[:]
    g.node.extend(out_nodes)
    g.initializer.extend(new_inits)
    # Drop the float weights (initializers or Constant nodes) nothing reads any more.
    used = {i for nd in g.node for i in nd.input} | {o.name for o in g.output}
    keep = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(keep)
    keep_nodes = [nd for nd in g.node if not (nd.op_type == "Constant" and nd.output[0] in weights
                                                and nd.output[0] not in used)]
    del g.node[:]
    g.node.extend(keep_nodes)
    for i in list(g.input):  # old-style models list initializers among the inputs
        if i.name in weights and i.name not in used:
            g.input.remove(i)
    if not any(o.domain in ("", "ai.onnx") and o.version >= 10 for o in model.opset_import):
        raise SystemExit("onnx_int8: the model's opset is below 10 (MatMulInteger, DynamicQuantizeLinear); "
                         "convert it first (onnx.version_converter)")
    model.producer_name, model.producer_version = "vitc bench/onnx_int8.py", "1"
    return stats


def quantize_file(src, dst, reduce_range=False, reshape_2d=False):
    model = onnx.load(src)
    stats = quantize_model(model, reduce_range=reduce_range, reshape_2d=reshape_2d)
    onnx.checker.check_model(model, full_check=True)  # full_check: strict shape inference as well
    d = os.path.dirname(os.path.abspath(dst))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(dst) + ".", suffix=".tmp", dir=d)
    os.close(fd)
    try:
        onnx.save(model, tmp)
        os.replace(tmp, dst)
    except BaseException:
        os.unlink(tmp)
        raise
    stats["bytes_in"], stats["bytes_out"] = os.path.getsize(src), os.path.getsize(dst)
    return stats


def ort_logits(model, x, threads=2, size=224):
    """Logits of x (N x 3 x S x S float32) through onnxruntime-node (bench/ort_peer.js)."""
    with tempfile.TemporaryDirectory() as t:
        xin, out = os.path.join(t, "x.f32"), os.path.join(t, "y.f32")
        x.astype(np.float32).tofile(xin)
        p = subprocess.run(["node", os.path.join(HERE, "ort_peer.js"), model, "--input", xin, "--logits-out", out,
                            "--size", str(size), "--threads", str(threads), "--iters", "0", "--warmup", "0"],
                           capture_output=True, text=True)
        if p.returncode:
            raise RuntimeError(f"ort_peer.js {model}: {p.stderr.strip()}")
        return np.fromfile(out, np.float32).reshape(x.shape[0], -1)


def agreement(ref, q):
    """Per-image cosine similarity and top-1 agreement of two logit arrays (N x C)."""
    ref, q = np.asarray(ref, np.float64), np.asarray(q, np.float64)
    cos = (ref * q).sum(1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(q, axis=1))
    top1 = ref.argmax(1) == q.argmax(1)
    return {"images": int(ref.shape[0]), "cosine_mean": float(cos.mean()), "cosine_min": float(cos.min()),
            "top1_agree": float(top1.mean()), "top1_agree_count": int(top1.sum()),
            "max_abs_diff": float(np.abs(ref - q).max()), "max_abs_logit": float(np.abs(ref).max())}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="fp32 ONNX model")
    ap.add_argument("--out", required=True, help="quantized ONNX model to write")
    ap.add_argument("--reduce-range", action="store_true", help="7-bit weights (+-63)")
    ap.add_argument("--reshape-2d", action="store_true", help="flatten activations to 2-D around MatMulInteger")
    ap.add_argument("--compare", type=int, default=0, metavar="N",
                    help="run N seeded random images through both models with onnxruntime-node")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    stats = quantize_file(a.model, a.out, a.reduce_range, a.reshape_2d)
    print(f"onnx_int8: {a.model} -> {a.out}: {stats['MatMul']} MatMul and {stats['Gemm']} Gemm quantized, "
          f"kept float: {stats['kept_float'] or 'none'}; {stats['bytes_in'] / 1e6:.1f} -> "
          f"{stats['bytes_out'] / 1e6:.1f} MB; onnx.checker passed", file=sys.stderr)
    if a.compare:
        x = np.random.default_rng(a.seed).uniform(-1, 1, size=(a.compare, 3, a.size, a.size)).astype(np.float32)
        r = agreement(ort_logits(a.model, x, a.threads, a.size), ort_logits(a.out, x, a.threads, a.size))
        print(json.dumps(dict(r, model=a.model, quantized=a.out, reduce_range=a.reduce_range,
                              reshape_2d=a.reshape_2d, **{k: stats[k] for k in ("MatMul", "Gemm")})))


if __name__ == "__main__":
    main()
