"""ctypes declarations of libvitc's public C API (include/vitc.h) and the library lookup.

The library is looked for, in order: the file named by $VITC_LIBRARY; the copy bundled inside
this package at install time (vitc/libvitc.so); the system's (libvitc.so.MAJOR, then
ctypes.util.find_library("vitc")). ctypes.CDLL releases the GIL for the duration of every call.
"""
import ctypes
import ctypes.util
import os
import threading

c_int, c_float, c_double, c_char_p, c_void_p = ctypes.c_int, ctypes.c_float, ctypes.c_double, ctypes.c_char_p, ctypes.c_void_p
P_float = ctypes.POINTER(c_float)
P_uint8 = ctypes.POINTER(ctypes.c_uint8)

# vitc_status values
OK, ERR_ARG, ERR_IO, ERR_FORMAT, ERR_SHAPE, ERR_MISSING, ERR_UNSUPPORTED, ERR_NOMEM, ERR_LIMIT = range(9)
ABI_MAJOR = 0  # VITC_VERSION_MAJOR of the header these declarations follow


class PreprocessParams(ctypes.Structure):
    _fields_ = [("size", c_int), ("crop_pct", c_float), ("interp", c_int), ("mean", c_float * 3),
                ("std", c_float * 3), ("squash", c_int), ("max_size", c_int)]


class LoadParams(ctypes.Structure):
    _fields_ = [("heads", c_int), ("labels_path", c_char_p), ("config_path", c_char_p), ("threads", c_int)]


class ModelInfo(ctypes.Structure):
    _fields_ = [("name", c_char_p), ("source", c_char_p),
                ("dim", c_int), ("depth", c_int), ("heads", c_int), ("mlp_dim", c_int),
                ("patch_size", c_int), ("image_size", c_int), ("in_chans", c_int),
                ("patch_kernel", c_int), ("num_classes", c_int),
                ("class_token", c_int), ("dist_token", c_int), ("reg_tokens", c_int), ("num_prefix_tokens", c_int),
                ("no_embed_class", c_int), ("pre_norm", c_int), ("qkv_bias", c_int), ("qk_norm", c_int),
                ("layer_scale", c_int), ("fc_norm", c_int),
                ("pool", c_int), ("ln_eps", c_float), ("num_params", ctypes.c_int64), ("flops", c_double),
                ("has_labels", c_int), ("preprocess", PreprocessParams),
                ("task", c_char_p), ("decoder", c_char_p),
                ("dec_dim", c_int), ("dec_depth", c_int), ("dec_heads", c_int),
                ("det_tokens", c_int), ("mid_pos", c_int)]


class Detection(ctypes.Structure):
    _fields_ = [("label", c_int), ("score", c_float), ("box", c_float * 4)]


# name: (restype, argtypes)
_SIGNATURES = {
    "vitc_version": (c_char_p, []),
    "vitc_status_name": (c_char_p, [c_int]),
    "vitc_last_error": (c_char_p, []),
    "vitc_image_load": (c_int, [c_char_p, ctypes.POINTER(c_void_p)]),
    "vitc_image_decode": (c_int, [c_void_p, ctypes.c_size_t, ctypes.POINTER(c_void_p)]),
    "vitc_image_from_rgb": (c_int, [c_int, c_int, P_uint8, ctypes.POINTER(c_void_p)]),
    "vitc_image_width": (c_int, [c_void_p]),
    "vitc_image_height": (c_int, [c_void_p]),
    "vitc_image_free": (None, [c_void_p]),
    "vitc_preprocess": (c_int, [c_void_p, ctypes.POINTER(PreprocessParams), P_float]),
    "vitc_load_default_params": (LoadParams, []),
    "vitc_model_load": (c_int, [c_char_p, ctypes.POINTER(LoadParams), ctypes.POINTER(c_void_p)]),
    "vitc_model_free": (None, [c_void_p]),
    "vitc_model_get_info": (None, [c_void_p, ctypes.POINTER(ModelInfo)]),
    "vitc_model_label": (c_char_p, [c_void_p, c_int]),
    "vitc_model_set_threads": (None, [c_void_p, c_int]),
    "vitc_model_set_int8": (c_int, [c_void_p, c_int]),
    "vitc_model_int8": (c_int, [c_void_p]),
    "vitc_model_classify": (c_int, [c_void_p, P_float, c_int, c_int, c_int, P_float]),
    "vitc_model_embed": (c_int, [c_void_p, P_float, c_int, c_int, c_int, P_float]),
    "vitc_model_num_tokens": (c_int, [c_void_p, c_int, c_int]),
    "vitc_model_embed_tokens": (c_int, [c_void_p, P_float, c_int, c_int, c_int, P_float]),
    "vitc_model_attention": (c_int, [c_void_p, P_float, c_int, c_int, c_int, c_int, c_int, P_float]),
    "vitc_model_segment": (c_int, [c_void_p, P_float, c_int, c_int, c_int, P_float, P_uint8]),
    "vitc_model_segment_image": (c_int, [c_void_p, c_void_p, P_float, P_uint8]),
    "vitc_model_detect": (c_int, [c_void_p, c_void_p, c_float, ctypes.c_void_p, c_int, ctypes.POINTER(c_int)]),
    "vitc_model_detect_raw": (c_int, [c_void_p, P_float, c_int, c_int, c_int, P_float, P_float]),
    "vitc_abi_sizes": (None, [ctypes.POINTER(ctypes.c_size_t)]),
    "vitc_topk": (None, [P_float, c_int, c_int, ctypes.POINTER(c_int), P_float]),
}

_lib = None
_lib_path = None
_lock = threading.Lock()


def _candidates():
    env = os.environ.get("VITC_LIBRARY")
    if env:
        return [env], True
    here = os.path.dirname(os.path.abspath(__file__))
    c = [os.path.join(here, "libvitc.so"), "libvitc.so.%d" % ABI_MAJOR]
    found = ctypes.util.find_library("vitc")
    if found:
        c.append(found)
    return c, False


def library():
    """The loaded ctypes.CDLL of libvitc (loaded on first use)."""
    global _lib, _lib_path
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is not None:
            return _lib
        names, from_env = _candidates()
        errors = []
        for name in names:
            if os.sep in name and not os.path.exists(name):
                errors.append("%s: no such file" % name)
                continue
            try:
                lib = ctypes.CDLL(name)
            except OSError as e:
                errors.append(str(e))
                continue
            for fn, (res, args) in _SIGNATURES.items():
                f = getattr(lib, fn)
                f.restype, f.argtypes = res, args
            # the structures above copy the header's layout: refuse a library whose layout differs
            sizes = (ctypes.c_size_t * 4)()
            lib.vitc_abi_sizes(sizes)
            mine = [ctypes.sizeof(PreprocessParams), ctypes.sizeof(LoadParams), ctypes.sizeof(ModelInfo),
                    ctypes.sizeof(Detection)]
            if list(sizes) != mine:
                errors.append("%s: its structures (sizes %s) differ from this package's (%s)" % (name, list(sizes), mine))
                continue
            _lib, _lib_path = lib, name
            return lib
        from . import Error
        where = "$VITC_LIBRARY" if from_env else "the package, $VITC_LIBRARY or the system"
        raise Error("libvitc not found in %s (%s)" % (where, "; ".join(errors)), ERR_IO)


def library_path():
    library()
    return _lib_path
