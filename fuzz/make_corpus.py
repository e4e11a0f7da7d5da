#!/usr/bin/env python3
"""Writes the small seed corpora under fuzz/corpus/ (safetensors files are built by hand:
u64 little-endian header length, JSON header padded with spaces, then the data area)."""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def safetensors(tensors, metadata=None, pad=True):
    """tensors: list of (name, dtype, shape, raw bytes)."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def write(sub, name, blob):
    d = os.path.join(HERE, "corpus", sub)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(blob)


f32 = struct.pack("<6f", 1.0, -2.0, 0.5, 3.25, -0.0, 1e-3)
f16 = struct.pack("<4H", 0x3C00, 0x0001, 0x7C00, 0xFE00)
bf16 = struct.pack("<3H", 0x3F80, 0xC0A0, 0x7FC0)
f64 = struct.pack("<2d", 1.5, -1e300)
i64 = struct.pack("<2q", 7, -1)

write("safetensors", "vit_like", safetensors(
    [("cls_token", "F32", [1, 1, 2], f32[:8]), ("head.weight", "F32", [2, 2], f32[8:24]),
     ("blocks.0.norm1.weight", "F16", [4], f16), ("pos", "BF16", [3], bf16), ("d", "F64", [2], f64),
     ("ids", "I64", [2], i64), ("mask", "BOOL", [], b"\x01"), ("empty", "F32", [0, 3], b"")],
    {"format": "pt", "vitc.arch": "vit_tiny_patch16_224"}))
write("safetensors", "single_f32", safetensors([("w", "F32", [2, 3], f32)]))
write("safetensors", "unpadded_meta_only", safetensors([], {"k": "v \u00e9"}, pad=False))
write("safetensors", "dtypes", safetensors(
    [("a", "I32", [1], b"\0" * 4), ("b", "I16", [1], b"\0\0"), ("c", "I8", [2], b"\1\2"),
     ("e", "U8", [1, 1, 1, 1, 1, 1, 1, 1], b"\3")]))

write("json", "config", json.dumps({
    "architectures": ["ViTForImageClassification"], "hidden_size": 192, "num_hidden_layers": 12,
    "layer_norm_eps": 1e-12, "qkv_bias": True, "id2label": {"0": "tench", "1": "goldfish"},
    "image_mean": [0.5, 0.5, 0.5], "crop_pct": 0.875, "extra": None}, indent=1).encode())
write("json", "escapes", b'["\\"\\\\\\/\\b\\f\\n\\r\\t", "\\u00e9\\u20ac\\ud83d\\ude00", "caf\xc3\xa9", "\\u0000"]')
write("json", "numbers", b"[0, -0, 1.5e-3, -12E+2, 9007199254740993, 1.7976931348623157e308, 5e-324]")
write("json", "nested", b'{"a":[{"b":[[[{"c":{}}]]]}, [], "", true, false, null]}')
