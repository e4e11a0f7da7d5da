#!/usr/bin/env python3
"""A Hugging Face YolosForObjectDetection checkpoint with yolos-tiny's layout (dim 192, depth 12, 3 heads,
patch 16, config image_size [800, 1333], 100 detection tokens, COCO's 91 label ids) and seeded RANDOM
weights: it exercises the whole pipeline (HF loading, processor resize, position resampling, heads,
post-processing, drawing) on a real photograph, but its boxes mean nothing.
Usage: scripts/make-yolos-layout.py OUT_DIR   (writes model.safetensors, config.json, preprocessor_config.json)"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref"))
from make_yolos_fixtures import random_weights, write_hf_checkpoint  # noqa: E402

COCO = ("N/A person bicycle car motorcycle airplane bus train truck boat traffic_light fire_hydrant N/A stop_sign "
        "parking_meter bench bird cat dog horse sheep cow elephant bear zebra giraffe N/A backpack umbrella N/A N/A "
        "handbag tie suitcase frisbee skis snowboard sports_ball kite baseball_bat baseball_glove skateboard surfboard "
        "tennis_racket bottle N/A wine_glass cup fork knife spoon bowl banana apple sandwich orange broccoli carrot "
        "hot_dog pizza donut cake chair couch potted_plant bed N/A dining_table N/A N/A toilet N/A tv laptop mouse "
        "remote keyboard cell_phone microwave oven toaster sink refrigerator N/A book clock vase scissors teddy_bear "
        "hair_drier toothbrush").split()


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    assert len(COCO) == 91
    cfg = {"architectures": ["YolosForObjectDetection"], "model_type": "yolos", "hidden_size": 192,
           "num_hidden_layers": 12, "num_attention_heads": 3, "intermediate_size": 768, "hidden_act": "gelu",
           "layer_norm_eps": 1e-12, "image_size": [800, 1333], "patch_size": 16, "num_channels": 3,
           "qkv_bias": True, "num_detection_tokens": 100, "use_mid_position_embeddings": False,
           "num_labels": 91, "id2label": {str(i): n.replace("_", " ") for i, n in enumerate(COCO)}}
    write_hf_checkpoint(out, random_weights(cfg, 7), cfg)


if __name__ == "__main__":
    main()
