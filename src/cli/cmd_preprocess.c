/* Placeholder until the image module lands. */
#include "cli/commands.h"
#include <stdio.h>
int cmd_preprocess(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "vitc preprocess: not built yet\n"); return 2; }
