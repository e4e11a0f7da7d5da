# vitc build. `make` builds build/vitc, build/libvitc.a and build/libvitc.so.
#   make CC=clang            another compiler (gcc and clang are both warning-free)
#   make SAN=1 BUILD=build-san   AddressSanitizer + UBSan build
#   make test                installs dependencies, builds, makes fixtures, runs every test
#   make demo                classifies the bundled example images with the bundled model
#   make fuzz                libFuzzer targets (clang), run for a bounded time
CC ?= cc
BUILD ?= build
OPT ?= -O2
CFLAGS_COMMON = -std=c11 -Wall -Wextra -Wshadow -Wno-unused-parameter -g $(OPT) -fPIC -fopenmp \
                -D_DEFAULT_SOURCE -Iinclude -Isrc
LDLIBS = -ljpeg -lpng -lz -lm
ifeq ($(SAN),1)
  CFLAGS_COMMON += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
endif
CFLAGS_COMMON += $(EXTRA_CFLAGS)
LDFLAGS += -fopenmp

LIB_SRC := $(sort $(shell find src -name '*.c' -not -path 'src/cli/*'))
CLI_SRC := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)

# SIMD kernels are compiled for their instruction set and chosen at run time.
AVX2_FLAGS = -mavx2 -mfma -mf16c
AVX512_FLAGS = -mavx512f -mavx512bw -mavx512dq -mavx512vl -mfma -mf16c

all: $(BUILD)/vitc $(BUILD)/libvitc.a $(BUILD)/libvitc.so

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(if $(findstring _avx512,$<),$(AVX512_FLAGS) $(if $(findstring _avx512bf16,$<),-mavx512bf16),$(if $(findstring _avx2,$<),$(AVX2_FLAGS))) -MMD -MP -c $< -o $@

$(BUILD)/libvitc.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libvitc.so: $(LIB_OBJ)
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/vitc: $(CLI_OBJ) $(BUILD)/libvitc.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libvitc.a $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/check.h $(BUILD)/libvitc.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -Itests/unit -o $@ $< $(BUILD)/libvitc.a $(LDFLAGS) $(LDLIBS)

tests: $(TEST_BIN)

# The public header must compile as C++ too.
$(BUILD)/cxx_check.o: include/vitc.h
	@mkdir -p $(BUILD)
	echo '#include "vitc.h"' | c++ -x c++ -std=c++11 -Wall -Wextra -Iinclude -c - -o $@

test: deps
	$(MAKE) all tests $(BUILD)/cxx_check.o
	tests/run.sh $(BUILD)

deps:
	scripts/install-deps.sh

demo:
	scripts/install-deps.sh --build
	$(MAKE) all
	scripts/demo.sh $(BUILD)

fuzz:
	scripts/fuzz.sh

bench: deps all
	bench/run.sh

clean:
	rm -rf $(BUILD)

.PHONY: all tests test deps demo fuzz bench clean
-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
