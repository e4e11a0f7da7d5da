"""The GIL is released while the library runs (ctypes does so for every foreign call), so two
Model objects work at once from two threads; their results are the same as one at a time."""
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import vitc
from conftest import DEFAULT, IMAGES, ROOT, SCENES, SEGMENT


def test_two_models_in_two_threads():
    a, b = vitc.Model(DEFAULT, threads=1), vitc.Model(DEFAULT, threads=1)
    s = vitc.Model(SEGMENT, threads=1)
    want = a.logits(IMAGES)
    want_emb = a.embed(IMAGES)
    want_mask = s.segment(SCENES[0])["mask"]
    results, errors = {}, []
    start = threading.Barrier(3)

    def work(name, fn):
        try:
            start.wait()
            results[name] = [fn() for _ in range(3)]
        except Exception as e:  # reported below: an exception in a thread does not fail the test
            errors.append(e)

    threads = [threading.Thread(target=work, args=("a", lambda: a.logits(IMAGES))),
               threading.Thread(target=work, args=("b", lambda: b.embed(IMAGES))),
               threading.Thread(target=work, args=("s", lambda: s.segment(SCENES[0])["mask"]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors and all(not t.is_alive() for t in threads), errors
    assert all(np.array_equal(r, want) for r in results["a"])
    assert all(np.array_equal(r, want_emb) for r in results["b"])
    assert all(np.array_equal(r, want_mask) for r in results["s"])


def test_one_model_shared_by_threads():
    m = vitc.Model(DEFAULT, threads=1)
    want = m.logits(IMAGES[:3])
    out, errors = [], []

    def work():
        try:
            for _ in range(3):
                out.append(m.logits(IMAGES[:3]))
        except Exception as e:
            errors.append(e)

    ts = [threading.Thread(target=work) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(300)
    assert not errors and len(out) == 9 and all(np.array_equal(o, want) for o in out)


def test_errors_are_per_thread(model):
    """Each thread gets its own call's message (vitc_last_error is per thread)."""
    msgs = {}

    def work(k):
        try:
            model.classify("/nonexistent/%d.png" % k)
        except vitc.Error as e:
            msgs[k] = str(e)

    ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert all("/nonexistent/%d.png" % k in msgs[k] for k in range(4)), msgs


def test_gil_released_during_library_calls(tmp_path):
    """A library call blocks in the C library (vitc_image_load opening a FIFO, which waits for a
    writer) while the main thread, in Python, opens the FIFO for writing. With the GIL held
    through the call the main thread could never get there: the child would hang, and the
    timeout fails the test."""
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    code = textwrap.dedent("""
        import os, sys, threading, time
        sys.path.insert(0, os.path.join(sys.argv[1], "python"))
        import vitc
        m = vitc.Model(sys.argv[2], threads=1)
        out, ready = {}, threading.Event()
        def load():
            ready.set()
            try:
                m.classify(sys.argv[3])  # blocks in the library's fopen until a writer opens the FIFO
            except vitc.Error as e:
                out["err"] = str(e)
        t = threading.Thread(target=load)
        t.start()
        ready.wait()
        time.sleep(0.5)  # the thread is now inside the library call; this line needs the GIL back
        fd = os.open(sys.argv[3], os.O_WRONLY)
        os.write(fd, b"not an image")
        os.close(fd)
        t.join()
        print(out.get("err", "no error"))
    """)
    p = subprocess.run([sys.executable, "-c", code, ROOT, DEFAULT, str(fifo)], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    assert "not a regular file" in p.stdout, p.stdout
