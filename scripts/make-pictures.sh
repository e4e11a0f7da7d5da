#!/usr/bin/env bash
# The README's pictures (docs/pictures): a segmentation overlay of an example scene by the bundled
# segmentation model and an attention-rollout map of an example image by the bundled classifier, each
# input scaled up 3x (nearest neighbour, so the pictures are big enough to see).
# Usage: scripts/make-pictures.sh [BUILD_DIR]   (needs python3 with PIL for the scaling)
set -euo pipefail
cd "$(dirname "$0")/.."
VITC=${1:-build}/vitc
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 - "$tmp" <<'PY'
import sys
from PIL import Image
out = sys.argv[1]
for src, name in [("examples/scenes/scene0.png", "scene0"), ("examples/scenes/scene3.png", "scene3")]:
    im = Image.open(src).convert("RGB")
    im.resize((im.width * 3, im.height * 3), Image.NEAREST).save(f"{out}/{name}.png")
PY
"$VITC" segment models/segment.safetensors "$tmp/scene0.png" "$tmp/scene3.png" --out "$tmp" --overlay
cp "$tmp/scene0.overlay.png" docs/pictures/segment_scene0.overlay.png
cp "$tmp/scene3.overlay.png" docs/pictures/segment_scene3.overlay.png
"$VITC" attention models/segment.safetensors "$tmp/scene0.png" --rollout --out "$tmp/att"
cp "$tmp/att/scene0.attention.png" docs/pictures/segment_scene0.attention.png

# detection: a photograph through a Hugging Face YOLOS checkpoint of yolos-tiny's layout with RANDOM
# weights (scripts/make-yolos-layout.py): the pipeline only, the boxes mean nothing
/usr/bin/python3 scripts/make-yolos-layout.py "$tmp/yolos"
"$VITC" detect "$tmp/yolos/model.safetensors" /usr/share/darknet/data/dog.jpg --threshold 0 --top 5 --out "$tmp/det"
/usr/bin/python3 -c "
from PIL import Image
im = Image.open('$tmp/det/dog.detections.png'); im.resize((im.width // 2, im.height // 2), Image.LANCZOS).save('docs/pictures/detect_dog_random_weights.png')"
if [[ -f models/detect.safetensors ]]; then
  "$VITC" detect models/detect.safetensors "$tmp/scene0.png" "$tmp/scene3.png" --threshold 0.5 --out "$tmp/det"
  cp "$tmp/det/scene0.detections.png" docs/pictures/detect_scene0.png
  cp "$tmp/det/scene3.detections.png" docs/pictures/detect_scene3.png
fi

ls -la docs/pictures
