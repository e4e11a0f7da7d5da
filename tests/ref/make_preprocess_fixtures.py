#!/usr/bin/env python3
"""Reference fixtures for vitc's image module, computed with PIL and torchvision 0.14.

Writes into OUT:
  images/       test images: real photographs and variants of them in every supported format
  decoded/      the RGB pixels PIL decodes (float16 H x W x 3 holding the uint8 values exactly)
  preprocess/   timm evaluation-transform tensors (float32 3 x N x N)
  resample/     torch F.interpolate(antialias=True) inputs and outputs (float32 C x H x W)
  resize/       PIL Image.resize outputs (float32 H x W x 3 holding uint8 values)
  manifest      one test per line, read by tests/unit/test_image.c
Deterministic: fixed seeds, fixed inputs.
"""
import argparse
import math
import os
import shutil
import struct
import warnings
import zlib

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import InterpolationMode

DARKNET = "/usr/share/darknet/data"
SKIMAGE = "/usr/lib/python3/dist-packages/skimage/data"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png16(path, arr):
    """16-bit PNG (gray, gray+alpha, RGB or RGBA from a uint16 H x W x C array); PIL cannot write these."""
    h, w, c = arr.shape
    color = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, color, 0, 0, 0)))
        f.write(png_chunk(b"IDAT", zlib.compress(raw, 6)))
        f.write(png_chunk(b"IEND", b""))


def timm_eval(img, size, crop_pct, interp, mean, std, squash):
    scale = math.floor(size / crop_pct)
    mode = InterpolationMode.BICUBIC if interp == "bicubic" else InterpolationMode.BILINEAR
    resize = T.Resize((scale, scale) if squash else scale, interpolation=mode)
    tf = T.Compose([resize, T.CenterCrop(size), T.ToTensor(), T.Normalize(mean, std)])
    return tf(img.convert("RGB")).numpy().astype(np.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    out = ap.parse_args().out
    warnings.filterwarnings("ignore", message="Palette images with Transparency")
    for d in ("images", "decoded", "preprocess", "resample", "resize"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    manifest = []
    rng = np.random.RandomState(1234)

    def img_path(name):
        return os.path.join(out, "images", name)

    # -- real photographs, copied as they are
    photos = []
    for src, name in [(f"{DARKNET}/dog.jpg", "dog.jpg"), (f"{DARKNET}/eagle.jpg", "eagle.jpg"),
                      (f"{DARKNET}/giraffe.jpg", "giraffe.jpg"), (f"{SKIMAGE}/astronaut.png", "astronaut.png"),
                      (f"{SKIMAGE}/chelsea.png", "chelsea.png"), (f"{SKIMAGE}/coffee.png", "coffee.png")]:
        shutil.copyfile(src, img_path(name))
        photos.append(name)

    dog = Image.open(f"{DARKNET}/dog.jpg").convert("RGB")
    kite = Image.open(f"{DARKNET}/kite.jpg").convert("RGB")
    person = Image.open(f"{DARKNET}/person.jpg").convert("RGB")
    horses = Image.open(f"{DARKNET}/horses.jpg").convert("RGB")
    chelsea = Image.open(f"{SKIMAGE}/chelsea.png").convert("RGB")
    coffee = Image.open(f"{SKIMAGE}/coffee.png").convert("RGB")
    astronaut = Image.open(f"{SKIMAGE}/astronaut.png").convert("RGB")

    # -- variants (all derived from the real photographs)
    portrait = dog.rotate(90, expand=True).crop((40, 60, 400, 700))  # 360 x 640, tall
    portrait.save(img_path("portrait.png"))
    photos.append("portrait.png")
    person.crop((0, 0, 300, 420)).save(img_path("person_progressive.jpg"), quality=90, progressive=True)
    photos.append("person_progressive.jpg")
    horses.crop((50, 30, 530, 300)).convert("L").save(img_path("horses_gray.jpg"), quality=85)
    photos.append("horses_gray.jpg")
    astronaut.convert("L").crop((100, 20, 400, 420)).save(img_path("astronaut_gray.png"))
    photos.append("astronaut_gray.png")
    pal = chelsea.crop((20, 10, 420, 290)).quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    trns = bytes([0 if i % 7 == 0 else 255 for i in range(64)])
    pal.save(img_path("chelsea_palette_trns.png"), transparency=trns)
    photos.append("chelsea_palette_trns.png")
    small_pal = chelsea.resize((37, 23)).quantize(colors=4)  # 2-bit palette PNG
    small_pal.save(img_path("chelsea_palette_2bit.png"), bits=2)
    rgba = coffee.crop((0, 0, 500, 330)).convert("RGBA")
    alpha = (np.add.outer(np.arange(330), np.arange(500)) % 256).astype(np.uint8)
    rgba.putalpha(Image.fromarray(alpha))
    rgba.save(img_path("coffee_rgba.png"))
    photos.append("coffee_rgba.png")
    la = kite.convert("L").crop((100, 50, 420, 290)).convert("LA")
    la.putalpha(Image.fromarray(alpha[:240, :320]))
    la.save(img_path("kite_la.png"))
    photos.append("kite_la.png")
    kite.crop((200, 100, 520, 340)).save(img_path("kite.ppm"))
    photos.append("kite.ppm")
    person.convert("L").crop((50, 40, 290, 400)).save(img_path("person.pgm"))
    photos.append("person.pgm")
    cmyk = np.array(dog.crop((100, 100, 420, 340)).convert("CMYK"))
    cmyk[..., 3] = (np.arange(320)[None, :] * 200 // 320).astype(np.uint8)  # a real K ramp
    Image.fromarray(cmyk, "CMYK").save(img_path("dog_cmyk.jpg"), quality=90)
    photos.append("dog_cmyk.jpg")

    # 16-bit PNGs: PIL reads RGB/RGBA/LA 16-bit keeping the high byte. 16-bit gray becomes
    # PIL mode "I" whose convert('RGB') clips at 255; vitc keeps the high byte there too, so the
    # gray16 expectation is written directly.
    c16 = np.array(chelsea.crop((0, 0, 300, 200))).astype(np.uint16) * 257
    c16 ^= rng.randint(0, 256, size=c16.shape).astype(np.uint16)  # vary the low byte
    write_png16(img_path("chelsea_rgb16.png"), c16)
    photos.append("chelsea_rgb16.png")
    write_png16(img_path("chelsea_rgba16.png"), np.concatenate([c16, c16[..., :1]], axis=2))
    g16 = c16[..., :1]
    write_png16(img_path("chelsea_gray16.png"), g16)
    write_png16(img_path("chelsea_la16.png"), np.concatenate([g16, g16], axis=2))
    # palette PNG whose indices run past its 2-entry PLTE (PIL shows a gray ramp there)
    idx = (np.array(chelsea.convert("L").crop((0, 0, 30, 20))) // 64).astype(np.uint8) * 60
    raw = b"".join(b"\x00" + row.tobytes() for row in idx)
    with open(img_path("palette_short.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(png_chunk(b"IHDR", struct.pack(">IIBBBBB", 30, 20, 8, 3, 0, 0, 0)))
        f.write(png_chunk(b"PLTE", bytes([200, 10, 20, 30, 220, 40])))
        f.write(png_chunk(b"IDAT", zlib.compress(raw, 6)))
        f.write(png_chunk(b"IEND", b""))
    # an interlaced (Adam7) PNG, shipped with libpng-dev (a build dependency)
    pngtest = "/usr/share/doc/libpng-dev/examples/pngtest.png"
    if os.path.exists(pngtest):
        shutil.copyfile(pngtest, img_path("interlaced.png"))
    # PNM with other maxvals: 16-bit PPM, 4-bit-ish maxval PGM, ASCII P3/P2
    k16 = np.array(kite.crop((0, 0, 64, 48))).astype(np.uint16) * 257 + 3
    with open(img_path("kite16.ppm"), "wb") as f:
        f.write(b"P6\n# 16-bit\n64 48\n65535\n" + k16.astype(">u2").tobytes())
    k15 = np.array(kite.convert("L").crop((0, 0, 40, 30))) // 17
    with open(img_path("kite_max15.pgm"), "wb") as f:
        f.write(b"P5 40 30 15\n" + k15.astype(np.uint8).tobytes())
    k3 = np.array(kite.crop((10, 10, 30, 25)))
    with open(img_path("kite_ascii.ppm"), "w") as f:
        f.write("P3\n# ascii\n20 15\n255\n" + "\n".join(" ".join(str(v) for v in row.ravel()) for row in k3) + "\n")
    with open(img_path("kite_ascii.pgm"), "w") as f:  # maxval > 255: 16-bit gray
        f.write("P2 20 15 1000\n" + " ".join(str(int(v) * 1000 // 255) for v in k3[..., 0].ravel()) + "\n")

    # -- decoded pixels
    decoded = {}
    for name in sorted(os.listdir(os.path.join(out, "images"))):
        im = Image.open(img_path(name))
        if name == "chelsea_gray16.png":
            rgb = np.repeat((g16 >> 8).astype(np.uint8), 3, axis=2)
        elif im.mode == "I":  # 16-bit PGM: PIL would clip; vitc scales round(v / maxval * 255)
            with open(img_path(name), "rb") as f:
                tok = f.read().split()
            w, h, maxval = int(tok[1]), int(tok[2]), int(tok[3])
            v = np.array([int(t) for t in tok[4:4 + w * h]], dtype=np.float64).reshape(h, w, 1)
            rgb = np.repeat(np.round(v / maxval * 255.0).astype(np.uint8), 3, axis=2)
        else:
            rgb = np.array(im.convert("RGB"))
        decoded[name] = rgb
        npy = f"decoded/{name}.npy"
        np.save(os.path.join(out, npy), rgb.astype(np.float16))  # exact for 0..255, half the size
        manifest.append(f"decode images/{name} {npy}")

    # -- timm evaluation transforms
    cases = [("bicubic224", 224, 0.9, "bicubic", (0.5,) * 3, (0.5,) * 3, 0),
             ("bilinear224", 224, 0.875, "bilinear", IMAGENET_MEAN, IMAGENET_STD, 0),
             ("squash224", 224, 1.0, "bilinear", (0.5,) * 3, (0.5,) * 3, 1),
             ("bicubic384", 384, 1.0, "bicubic", (0.5,) * 3, (0.5,) * 3, 0),
             ("pad224", 224, 1.15, "bicubic", (0.5,) * 3, (0.5,) * 3, 0)]  # resize below 224: zero padding
    for name in photos:
        img = Image.fromarray(decoded[name])
        for tag, size, crop_pct, interp, mean, std, squash in cases:
            if tag != "bicubic224" and name not in photos[:8]:
                continue
            if tag == "pad224" and name != "portrait.png":
                continue
            if tag == "bicubic384" and name not in ("dog.jpg", "chelsea.png", "portrait.png"):
                continue
            x = timm_eval(img, size, crop_pct, interp, mean, std, squash)
            npy = f"preprocess/{name}.{tag}.npy"
            np.save(os.path.join(out, npy), x)
            m = ",".join(repr(v) for v in mean)
            s = ",".join(repr(v) for v in std)
            manifest.append(f"preprocess images/{name} {size} {crop_pct!r} {interp} {squash} {m} {s} {npy}")

    # -- PIL Image.resize on a real photo, up and down, odd sizes
    src = "chelsea.png"
    for i, (w, h, interp) in enumerate([(97, 61, "bicubic"), (97, 61, "bilinear"), (700, 523, "bicubic"),
                                         (300, 1000, "bilinear"), (451, 117, "bicubic"), (13, 300, "bicubic")]):
        r = Image.fromarray(decoded[src]).resize((w, h), Image.BICUBIC if interp == "bicubic" else Image.BILINEAR)
        npy = f"resize/{src}.{i}.npy"
        np.save(os.path.join(out, npy), np.array(r).astype(np.float32))
        manifest.append(f"resize images/{src} {w} {h} {interp} {npy}")

    # -- torch antialiased interpolate on random float planes
    g = torch.Generator().manual_seed(0)
    for i, (c, h, w, oh, ow, interp) in enumerate([
            (3, 14, 14, 24, 24, "bicubic"), (3, 24, 24, 14, 14, "bicubic"), (2, 7, 10, 16, 5, "bicubic"),
            (4, 16, 16, 16, 33, "bicubic"), (1, 37, 23, 10, 50, "bicubic"), (5, 14, 14, 32, 20, "bicubic"),
            (3, 14, 14, 24, 24, "bilinear"), (3, 24, 24, 7, 7, "bilinear"), (2, 9, 30, 20, 11, "bilinear")]):
        x = torch.randn(c, h, w, generator=g)
        y = F.interpolate(x[None], size=(oh, ow), mode=interp, antialias=True, align_corners=False)[0]
        a, b = f"resample/{i}.in.npy", f"resample/{i}.out.npy"
        np.save(os.path.join(out, a), x.numpy().astype(np.float32))
        np.save(os.path.join(out, b), y.numpy().astype(np.float32))
        manifest.append(f"resample {interp} {c} {h} {w} {oh} {ow} {a} {b}")

    with open(os.path.join(out, "manifest"), "w") as f:
        f.write("\n".join(manifest) + "\n")
    print(f"make_preprocess_fixtures: {len(manifest)} fixtures in {out}")


if __name__ == "__main__":
    main()
