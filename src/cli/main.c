/* vitc command-line entry: dispatches to one command per file. */
#include "cli/commands.h"
#include "vitc.h"

#include <stdio.h>
#include <string.h>

static const vt_command commands[] = {
    {"classify", "classify images (top-k labels, JSON, logits)", cmd_classify},
    {"info", "describe a model: architecture, parameters, FLOPs, preprocessing, labels", cmd_info},
    {"create", "make a model with random weights (named architecture or explicit sizes)", cmd_create},
    {"bench", "time the forward pass: latency, throughput, GFLOP/s, load time, peak memory", cmd_bench},
    {"segment", "semantic segmentation: class-index mask PNGs at the image's size, colour overlays, areas", cmd_segment},
    {"detect", "object detection (YOLOS): boxes, labels and scores as text or JSON, pictures with the boxes drawn", cmd_detect},
    {"train", "train a classifier or (--task segment) a segmentation model; from scratch or fine-tuning", cmd_train},
    {"eval", "accuracy, per-class accuracy and confusion matrix of a model on a dataset", cmd_eval},
    {"quantize", "write the model with int8 block weights (per-channel; dynamic or calibrated static inputs)", cmd_quantize},
    {"average", "average the parameters of several models of one architecture (checkpoint averaging)", cmd_average},
    {"scenes", "write Fashion-MNIST scenes for detection and segmentation (images, masks, COCO annotations)",
     cmd_scenes},
    {"embed", "pooled features or final tokens of images as .npy or JSON", cmd_embed},
    {"attention", "attention maps (last block or rollout) as heat maps over the images", cmd_attention},
    {"serve", "an HTTP server for models: classify, embed, segment, detect; requests batched", cmd_serve},
    {"preprocess", "write the model input tensor for an image as .npy", cmd_preprocess},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *fp) {
    fprintf(fp, "vitc %s — Vision Transformers in C\n\nusage: vitc COMMAND [options]\n\ncommands:\n", VITC_VERSION);
    for (size_t i = 0; i < N_COMMANDS; i++) fprintf(fp, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(fp, "\n'vitc COMMAND --help' describes each command.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("vitc %s\n", VITC_VERSION);
        return 0;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "vitc: unknown command '%s' (see vitc --help)\n", argv[1]);
    return 2;
}
