"""`pip install ./python` offline, into a throwaway venv (never system-wide): the installed
package carries its own copy of libvitc.so and works without $VITC_LIBRARY or PYTHONPATH."""
import json
import os
import subprocess
import sys

import pytest
import vitc
from conftest import DEFAULT, ROOT, SNEAKER, cli_json, sanitized


@pytest.mark.skipif(sanitized(), reason="sanitizer build: its library needs preloaded runtimes, not for bundling")
def test_pip_install_into_venv(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True,
                   capture_output=True)
    py = str(venv / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k not in ("VITC_LIBRARY", "PYTHONPATH")}
    env.update(VITC_BUILD=os.path.dirname(os.path.abspath(vitc.library_path())), PIP_NO_CACHE_DIR="1",
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    p = subprocess.run([py, "-m", "pip", "install", "--no-build-isolation", "--no-index", os.path.join(ROOT, "python")],
                       capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert p.returncode == 0, p.stdout + p.stderr
    code = ("import json, sys, vitc; m = vitc.Model(sys.argv[1], threads=1); "
            "print(json.dumps({'file': vitc.__file__, 'lib': vitc.library_path(), 'version': vitc.__version__, "
            "'top': m.classify(sys.argv[2], top=1)[0][0]}))")
    p = subprocess.run([py, "-c", code, DEFAULT, SNEAKER], capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["file"].startswith(str(venv)), r
    assert r["lib"] == os.path.join(os.path.dirname(r["file"]), "libvitc.so"), r
    assert r["version"] == vitc.__version__
    ref = cli_json("classify", DEFAULT, SNEAKER, "--json", "--top", "1")[0]["top"][0]
    assert (r["top"]["index"], r["top"]["label"], "%.6g" % r["top"]["score"]) == \
           (ref["index"], ref["label"], "%.6g" % ref["prob"])
    p = subprocess.run([py, "-m", "pip", "show", "vitc"], capture_output=True, text=True, env=env)
    assert "Version: %s" % vitc.__version__ in p.stdout
