"""vitc: Vision Transformers in C, from Python.

    import vitc
    m = vitc.Model("models/default.safetensors")
    print(m.classify("examples/images/0009_sneaker.png", top=3))

A thin ctypes layer over libvitc (include/vitc.h): every number comes from the C library, so the
results are the command line's and the C API's, bit for bit. Images may be file paths, encoded
bytes (JPEG, PNG, PPM/PGM), PIL images or NumPy uint8 arrays (H x W x 3, RGB); classify, embed,
attention and segment also take preprocessed float32 arrays (N x 3 x H x W, or 3 x H x W for one).
Failures raise vitc.Error with the C library's message. The GIL is released while the library
runs (ctypes releases it for every foreign call), so separate Model objects run in parallel in
separate threads; calls on one Model from several threads are serialized by its own lock.
"""
import os
import threading
import ctypes

import numpy as np

from . import _capi
from ._capi import library, library_path

__all__ = ["Model", "Error", "library_path", "library_version"]


class Error(Exception):
    """A vitc failure: the message is the C library's (vitc_last_error) or names the bad argument.
    status is the vitc_status number (vitc.h), status_name its short name."""

    def __init__(self, message, status=_capi.ERR_ARG):
        super().__init__(message)
        self.status = status

    @property
    def status_name(self):
        try:
            return library().vitc_status_name(self.status).decode()
        except Error:  # no library to ask
            return "status %d" % self.status


def _check(status, context=None):
    if status != _capi.OK:
        msg = (library().vitc_last_error() or b"").decode("utf-8", "replace")
        if context and context not in msg:
            msg = "%s: %s" % (context, msg) if msg else context
        raise Error(msg or library().vitc_status_name(status).decode(), status)


def library_version():
    """vitc_version() of the loaded library, e.g. "0.1.0"."""
    return library().vitc_version().decode()


def __getattr__(name):  # vitc.__version__: the library's, read on first use
    if name == "__version__":
        return library_version()
    raise AttributeError("module 'vitc' has no attribute %r" % name)


def _fptr(a):
    return a.ctypes.data_as(_capi.P_float)


def _u8ptr(a):
    return a.ctypes.data_as(_capi.P_uint8)


def _is_pil(obj):
    return type(obj).__module__.startswith("PIL.") and hasattr(obj, "convert") and hasattr(obj, "size")


def _describe(obj):
    if isinstance(obj, np.ndarray):
        return "a %s array of shape %s" % (obj.dtype, obj.shape)
    return "an object of type %s" % type(obj).__name__


def _is_single(obj):
    """True for one image or one preprocessed tensor (3-D); False for a list/tuple or an N x 3 x H x W array."""
    if isinstance(obj, (list, tuple)):
        return False
    if isinstance(obj, np.ndarray) and obj.dtype != np.uint8 and obj.ndim == 4:
        return False
    return True


class _Image:
    """An owned vitc_image handle made from a path, encoded bytes, a PIL image or a uint8 array."""

    def __init__(self, obj):
        lib = library()
        self.h = ctypes.c_void_p()
        if isinstance(obj, (str, os.PathLike)):
            _check(lib.vitc_image_load(os.fsencode(obj), ctypes.byref(self.h)))
        elif isinstance(obj, (bytes, bytearray, memoryview)):
            data = bytes(obj)
            _check(lib.vitc_image_decode(data, len(data), ctypes.byref(self.h)))
        else:
            if _is_pil(obj):
                obj = np.asarray(obj.convert("RGB"))
            if not isinstance(obj, np.ndarray):
                raise Error("image: expected a file path, encoded bytes, a PIL image or a uint8 H x W x 3 array, "
                            "not %s" % _describe(obj))
            if obj.dtype != np.uint8 or obj.ndim != 3 or obj.shape[2] != 3:
                raise Error("image: a pixel array must be uint8 H x W x 3 (RGB), not %s" % _describe(obj),
                            _capi.ERR_SHAPE)
            rgb = np.ascontiguousarray(obj)
            _check(lib.vitc_image_from_rgb(int(rgb.shape[1]), int(rgb.shape[0]), _u8ptr(rgb), ctypes.byref(self.h)))

    @property
    def width(self):
        return library().vitc_image_width(self.h)

    @property
    def height(self):
        return library().vitc_image_height(self.h)

    def free(self):
        if self.h:
            library().vitc_image_free(self.h)
            self.h = ctypes.c_void_p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.free()


def _f32(v):
    """A float32 value as the shortest Python float that prints it (0.286, not 0.28600001...)."""
    return float(str(np.float32(v)))


class Model:
    """A loaded model (vitc_model_load): a classifier or a segmentation model.

    threads: threads for this model's forward passes (None: $VITC_NUM_THREADS, else every core).
    heads, labels, config: as the CLI's --heads, --labels FILE, --config config.json.
    int8: True runs the blocks' Linear layers in int8 (the CLI's --int8; a `vitc quantize` file is int8
    without it). `.int8` is 0 (float), 1 (dynamic) or 2 (static input scales).
    """

    def __init__(self, path, threads=None, heads=None, labels=None, config=None, int8=False):
        lib = library()
        self._h = None
        self._lock = threading.Lock()
        lp = lib.vitc_load_default_params()
        if threads is not None:
            if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
                raise Error("threads must be a positive integer, not %r" % (threads,))
            lp.threads = threads
        if heads is not None:
            if not isinstance(heads, int) or isinstance(heads, bool) or heads < 1:
                raise Error("heads must be a positive integer, not %r" % (heads,))
            lp.heads = heads
        if labels is not None:
            lp.labels_path = os.fsencode(labels)
        if config is not None:
            lp.config_path = os.fsencode(config)
        h = ctypes.c_void_p()
        _check(lib.vitc_model_load(os.fsencode(path), ctypes.byref(lp), ctypes.byref(h)))
        self._h = h
        if int8:
            _check(lib.vitc_model_set_int8(h, 1))
        self.int8 = lib.vitc_model_int8(h)
        self.path = os.fspath(path)
        ci = _capi.ModelInfo()
        lib.vitc_model_get_info(h, ctypes.byref(ci))
        self._ci = ci
        self._pre = _capi.PreprocessParams()
        ctypes.pointer(self._pre)[0] = ci.preprocess
        self._info = self._make_info(ci)

    # ------------------------------------------------------------ lifetime
    def close(self):
        """Frees the model (also done when the object is collected)."""
        with self._lock:
            if self._h:
                library().vitc_model_free(self._h)
                self._h = None

    def __del__(self):
        try:
            if getattr(self, "_h", None) and _capi._lib is not None:
                _capi._lib.vitc_model_free(self._h)
                self._h = None
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _handle(self):
        if not self._h:
            raise Error("the model is closed")
        return self._h

    # ------------------------------------------------------------ description
    def _make_info(self, ci):
        lib = library()
        d = lambda b: b.decode("utf-8", "replace") if b is not None else None
        labels = None
        if ci.has_labels:
            labels = [d(lib.vitc_model_label(self._h, k)) for k in range(ci.num_classes)]
        pp = ci.preprocess
        info = {
            "name": d(ci.name), "task": d(ci.task), "source": d(ci.source),
            "dim": ci.dim, "depth": ci.depth, "heads": ci.heads, "mlp_dim": ci.mlp_dim,
            "patch_size": ci.patch_size, "patch_kernel": ci.patch_kernel, "image_size": ci.image_size,
            "in_chans": ci.in_chans, "num_classes": ci.num_classes,
            "class_token": ci.class_token, "dist_token": ci.dist_token, "reg_tokens": ci.reg_tokens,
            "num_prefix_tokens": ci.num_prefix_tokens,
            "no_embed_class": ci.no_embed_class, "pre_norm": ci.pre_norm, "qkv_bias": ci.qkv_bias,
            "qk_norm": ci.qk_norm, "layer_scale": ci.layer_scale, "fc_norm": ci.fc_norm,
            "pool": "avg" if ci.pool == 1 else "token", "ln_eps": _f32(ci.ln_eps),
            "params": int(ci.num_params), "flops": float(ci.flops),
            "preprocess": {"size": pp.size, "crop_pct": _f32(pp.crop_pct),
                           "interpolation": "bilinear" if pp.interp == 1 else "bicubic",
                           "mean": [_f32(v) for v in pp.mean], "std": [_f32(v) for v in pp.std],
                           "squash": bool(pp.squash)},
            "labels": labels,
        }
        if ci.decoder is not None:
            info["decoder"] = {"type": d(ci.decoder), "dim": ci.dec_dim, "depth": ci.dec_depth, "heads": ci.dec_heads}
        if ci.det_tokens:
            info["detection"] = {"det_tokens": ci.det_tokens, "mid_pos": bool(ci.mid_pos), "max_size": pp.max_size}
        return info

    @property
    def info(self):
        """The model's description as a dict (the keys of `vitc info --json`, plus num_prefix_tokens)."""
        return {k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v)
                for k, v in self._info.items()}

    @property
    def labels(self):
        """Class names (None when the model has none)."""
        return None if self._info["labels"] is None else list(self._info["labels"])

    def label(self, index):
        labels = self._info["labels"]
        return labels[index] if labels is not None and 0 <= index < len(labels) else None

    # ------------------------------------------------------------ inputs
    def preprocess(self, image):
        """The model input for one image: float32 3 x S x S (vitc_preprocess with the model's parameters)."""
        with _Image(image) as im:
            return self._preprocess(im)

    def _preprocess(self, im):
        s = self._pre.size
        x = np.empty((3, s, s), np.float32)
        _check(library().vitc_preprocess(im.h, ctypes.byref(self._pre), _fptr(x)))
        return x

    def _tensor(self, obj):
        """One input as an n x C x H x W float32 array: preprocessed arrays as they are, images preprocessed."""
        if isinstance(obj, np.ndarray) and obj.dtype != np.uint8:
            C = self._ci.in_chans
            if obj.dtype != np.float32:
                raise Error("input: a preprocessed tensor must be float32, not %s (images as arrays are uint8 "
                            "H x W x 3)" % obj.dtype, _capi.ERR_SHAPE)
            if obj.ndim == 3:
                obj = obj[None]
            if obj.ndim != 4 or obj.shape[1] != C or obj.shape[2] < 1 or obj.shape[3] < 1:
                raise Error("input: a preprocessed tensor must be N x %d x H x W (or %d x H x W), not shape %s"
                            % (C, C, obj.shape), _capi.ERR_SHAPE)
            return np.ascontiguousarray(obj)
        with _Image(obj) as im:
            return self._preprocess(im)[None]

    def _batches(self, images, batch):
        """Yields (x, count) with x a contiguous batch of up to `batch` images of one size, in input order."""
        if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
            raise Error("batch must be a positive integer, not %r" % (batch,))
        items = [images] if _is_single(images) else list(images)
        pending = []

        def flush():
            x = np.ascontiguousarray(np.stack(pending) if len(pending) > 1 else pending[0][None])
            pending.clear()
            return x

        for obj in items:
            t = self._tensor(obj)
            for k in range(t.shape[0]):
                if pending and (len(pending) == batch or pending[0].shape != t[k].shape):
                    yield flush()
                pending.append(t[k])
        if pending:
            yield flush()

    # ------------------------------------------------------------ tasks
    def logits(self, images, batch=8):
        """Class logits, N x num_classes float32 (vitc_model_classify)."""
        C = self._ci.num_classes
        outs = []
        for x in self._batches(images, batch):
            out = np.empty((x.shape[0], C), np.float32)
            with self._lock:
                _check(library().vitc_model_classify(self._handle(), _fptr(x), x.shape[0], x.shape[2], x.shape[3],
                                                     _fptr(out)))
            outs.append(out)
        return np.concatenate(outs) if outs else np.empty((0, C), np.float32)

    def classify(self, images, top=5, batch=8):
        """The `top` best classes of each image: a list (one per image) of lists of
        {"index", "label", "score"} (score: the softmax probability, the CLI's "prob"), best first."""
        if not isinstance(top, int) or isinstance(top, bool) or top < 1:
            raise Error("top must be a positive integer, not %r" % (top,))
        lg = self.logits(images, batch)
        C = self._ci.num_classes
        k = min(top, C)
        idx = (ctypes.c_int * k)()
        prob = (ctypes.c_float * k)()
        results = []
        for row in lg:
            row = np.ascontiguousarray(row)
            library().vitc_topk(_fptr(row), C, k, idx, prob)
            results.append([{"index": idx[i], "label": self.label(idx[i]), "score": float(prob[i])} for i in range(k)])
        return results

    def embed(self, images, tokens=False, batch=8):
        """Pooled, normalized features: N x dim float32 (vitc_model_embed); tokens=True: the final
        tokens, N x T x dim (vitc_model_embed_tokens, prefix tokens first; one input size only)."""
        D = self._ci.dim
        outs, shape = [], None
        for x in self._batches(images, batch):
            n, _, H, W = x.shape
            with self._lock:
                h = self._handle()
                if tokens:
                    if shape is not None and shape != (H, W):
                        raise Error("embed: tokens=True needs one input size (got %dx%d and %dx%d)"
                                    % (shape[0], shape[1], H, W), _capi.ERR_SHAPE)
                    shape = (H, W)
                    T = library().vitc_model_num_tokens(h, H, W)
                    if T < 0:
                        raise Error("embed: input size %dx%d is not a multiple of the patch size %d"
                                    % (H, W, self._ci.patch_size), _capi.ERR_SHAPE)
                    out = np.empty((n, T, D), np.float32)
                    _check(library().vitc_model_embed_tokens(h, _fptr(x), n, H, W, _fptr(out)))
                else:
                    out = np.empty((n, D), np.float32)
                    _check(library().vitc_model_embed(h, _fptr(x), n, H, W, _fptr(out)))
            outs.append(out)
        if not outs:
            return np.empty((0, 0, D) if tokens else (0, D), np.float32)
        return np.concatenate(outs)

    def _one(self, image, what):
        if not _is_single(image):
            if isinstance(image, np.ndarray) and image.shape[0] == 1:
                return image
            raise Error("%s: takes one image, not %s" % (what, _describe(image) if isinstance(image, np.ndarray)
                                                         else "a list"))
        return image

    def attention(self, image, head=None, rollout=False):
        """The attention map of one image over the patch grid, float32 (H/P) x (W/P)
        (vitc_model_attention): the last block's class-token attention, averaged over the heads
        (head=None) or of one head; rollout=True: attention rollout through every block."""
        if head is None:
            head = -1
        elif not isinstance(head, int) or isinstance(head, bool) or head < 0:
            raise Error("attention: head must be None (the mean) or an integer >= 0, not %r" % (head,))
        x = self._tensor(self._one(image, "attention"))
        _, _, H, W = x.shape
        P = self._ci.patch_size
        if H % P or W % P:
            raise Error("attention: input size %dx%d is not a multiple of the patch size %d" % (H, W, P),
                        _capi.ERR_SHAPE)
        out = np.empty((H // P, W // P), np.float32)
        with self._lock:
            _check(library().vitc_model_attention(self._handle(), _fptr(x), 1, H, W, head, 1 if rollout else 0,
                                                  _fptr(out)))
        return out

    def segment(self, image, scores=False):
        """Semantic segmentation of one image: {"width", "height", "mask", "classes"} with mask the
        uint8 height x width class indices at the image's own size (vitc_model_segment_image; for a
        preprocessed float32 tensor, at its size: vitc_model_segment) and classes the classes present,
        [{"class", "label", "pixels", "fraction"}] as `vitc segment --json`. scores=True adds
        "scores", the float32 classes x height x width upsampled class scores."""
        image = self._one(image, "segment")
        C = self._ci.num_classes
        lib = library()
        if isinstance(image, np.ndarray) and image.dtype != np.uint8:
            x = self._tensor(image)
            _, _, h, w = x.shape
            mask = np.empty((h, w), np.uint8)
            sc = np.empty((C, h, w), np.float32) if scores else None
            with self._lock:
                _check(lib.vitc_model_segment(self._handle(), _fptr(x), 1, h, w,
                                              _fptr(sc) if scores else None, _u8ptr(mask)))
        else:
            with _Image(image) as im:
                w, h = im.width, im.height
                mask = np.empty((h, w), np.uint8)
                sc = np.empty((C, h, w), np.float32) if scores else None
                with self._lock:
                    _check(lib.vitc_model_segment_image(self._handle(), im.h, _fptr(sc) if scores else None,
                                                        _u8ptr(mask)))
        area = np.bincount(mask.ravel(), minlength=C)
        classes = [{"class": c, "label": self.label(c), "pixels": int(area[c]), "fraction": float(area[c]) / (w * h)}
                   for c in range(len(area)) if area[c]]
        res = {"width": w, "height": h, "mask": mask, "classes": classes}
        if scores:
            res["scores"] = sc
        return res

    def detect(self, image, threshold=0.5, top=100):
        """Object detection on one image (a detection model: YOLOS): [{"index", "label", "score", "box"}]
        best score first, box [x0, y0, x1, y1] in the image's pixels, as `vitc detect --json`
        (vitc_model_detect: the model's preprocessing, then Hugging Face's post-processing)."""
        image = self._one(image, "detect")
        if isinstance(image, np.ndarray) and image.dtype != np.uint8:
            raise Error("detect: give an image (path, bytes, PIL image or uint8 array), not a tensor", _capi.ERR_ARG)
        top = int(top)
        if top < 1:
            raise Error("detect: top must be positive", _capi.ERR_ARG)
        lib = library()
        out = (_capi.Detection * top)()
        n = ctypes.c_int(0)
        with _Image(image) as im:
            with self._lock:
                _check(lib.vitc_model_detect(self._handle(), im.h, float(threshold), out, top, ctypes.byref(n)))
        return [{"index": d.label, "label": self.label(d.label), "score": float(d.score), "box": [float(v) for v in d.box]}
                for d in out[:n.value]]

    def __repr__(self):
        i = self._info
        return "vitc.Model(%r: %s, task %s, dim %d, depth %d, %d classes)" % (
            self.path, i["name"], i["task"], i["dim"], i["depth"], i["num_classes"])
