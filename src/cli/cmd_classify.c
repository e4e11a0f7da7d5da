/* Placeholder until the model lands (this file is replaced in the core issue's work). */
#include "cli/commands.h"
#include <stdio.h>
int cmd_classify(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "vitc classify: not built yet\n"); return 2; }
