/* One function per CLI command; each parses its own options and returns the exit status. */
#ifndef VT_CLI_COMMANDS_H
#define VT_CLI_COMMANDS_H

typedef struct vt_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
} vt_command;

int cmd_classify(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_preprocess(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_train(int argc, char **argv);
/* vitc train --task segment (cmd_train_seg.c) */
int cmd_train_segment(int argc, char **argv);
/* Sets OMP_WAIT_POLICY=PASSIVE (unless set) and re-executes the program with full_argv. */
void vt_cli_passive_omp(char **full_argv);
int cmd_eval(int argc, char **argv);
/* vitc eval's segmentation scores on a scene folder (cmd_eval_seg.c) */
struct vitc_model;
int cmd_eval_segment(struct vitc_model *m, const char *model_path, const char *data, const char *split, int sp,
                     float val_frac, int limit, int batch, int json);
/* vitc eval's detection scores on a scene folder (cmd_eval_det.c) */
int cmd_eval_detect(struct vitc_model *m, const char *model_path, const char *data, const char *split, int sp,
                    float val_frac, int limit, int json);
int cmd_average(int argc, char **argv);
int cmd_segment(int argc, char **argv);
int cmd_scenes(int argc, char **argv);
int cmd_attention(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_detect(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_quantize(int argc, char **argv);

#endif
