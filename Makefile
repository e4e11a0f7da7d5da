# vitc build. `make` builds build/vitc, build/libvitc.a and build/libvitc.so.
#   make CC=clang            another compiler (gcc and clang are both warning-free)
#   make SAN=1 BUILD=build-san   AddressSanitizer + UBSan build
#   make test                installs dependencies, builds, makes fixtures, runs every test
#   make demo                classifies the bundled example images with the bundled model
#   make fuzz                libFuzzer targets (clang), run for a bounded time
#   make install PREFIX=/usr/local [DESTDIR=/staging]   binary, libraries, header, vitc.pc; make uninstall
#   build/vitc-mpi           built too when Open MPI's mpicc is found (MPI=0: never, MPI=1: required):
#                            the same CLI, data-parallel `mpirun -np N build/vitc-mpi train ...`
CC ?= cc
BUILD ?= build
OPT ?= -O2
CFLAGS_COMMON = -std=c11 -Wall -Wextra -Wshadow -Wno-unused-parameter -g $(OPT) -fPIC -fopenmp \
                -D_DEFAULT_SOURCE -Iinclude -Isrc
LDLIBS = -ljpeg -lpng -lz -lm
# The command line alone links libmicrohttpd (vitc serve); the library does not.
CLI_LDLIBS = -lmicrohttpd -lpthread
ifeq ($(SAN),1)
  CFLAGS_COMMON += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
endif
CFLAGS_COMMON += $(EXTRA_CFLAGS)
LDFLAGS += -fopenmp

# The version comes from include/vitc.h (VITC_VERSION_MAJOR/MINOR/PATCH), nowhere else.
version_part = $(shell sed -n 's/^\#define VITC_VERSION_$(1) \([0-9][0-9]*\)$$/\1/p' include/vitc.h)
VERSION_MAJOR := $(call version_part,MAJOR)
VERSION := $(VERSION_MAJOR).$(call version_part,MINOR).$(call version_part,PATCH)
SONAME := libvitc.so.$(VERSION_MAJOR)

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
INSTALL ?= install

# The target's architecture (first field of `$(CC) -dumpmachine`) decides which SIMD files are
# built: x86 ones (_avx2, _avx512 in the name) only for x86, NEON ones (_neon) only for aarch64;
# other targets get the portable kernels alone.
TARGET_ARCH := $(firstword $(subst -, ,$(shell $(CC) -dumpmachine)))
ifneq ($(filter x86_64 i386 i486 i586 i686,$(TARGET_ARCH)),)
  ARCH_SKIP := %_neon.c
else ifeq ($(TARGET_ARCH),aarch64)
  ARCH_SKIP := %_avx2.c %_avx512.c %_avx512bf16.c
else
  ARCH_SKIP := %_neon.c %_avx2.c %_avx512.c %_avx512bf16.c
endif
LIB_SRC := $(sort $(filter-out $(ARCH_SKIP),$(shell find src -name '*.c' -not -path 'src/cli/*')))
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
	$(CC) $(CFLAGS_COMMON) $(if $(findstring _avx512,$<),$(AVX512_FLAGS) $(if $(findstring _avx512bf16,$<),-mavx512bf16)$(if $(findstring vnni,$<), -mavx512vnni),$(if $(findstring _avx2,$<),$(AVX2_FLAGS)$(if $(findstring vnni,$<), -mavxvnni))) $(if $(findstring int8_neon,$<),-march=armv8.2-a+dotprod) -MMD -MP -c $< -o $@

$(BUILD)/libvitc.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# libvitc.so -> libvitc.so.MAJOR -> libvitc.so.MAJOR.MINOR.PATCH (soname libvitc.so.MAJOR)
$(BUILD)/libvitc.so.$(VERSION): $(LIB_OBJ)
	$(CC) -shared $(LDFLAGS) -Wl,-soname,$(SONAME) -o $@ $^ $(LDLIBS)

$(BUILD)/libvitc.so: $(BUILD)/libvitc.so.$(VERSION)
	ln -sf libvitc.so.$(VERSION) $(BUILD)/$(SONAME)
	ln -sf libvitc.so.$(VERSION) $@

$(BUILD)/vitc: $(CLI_OBJ) $(BUILD)/libvitc.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libvitc.a $(LDLIBS) $(CLI_LDLIBS)

# build/vitc-mpi: the CLI objects of build/vitc except src/cli/dist.c, which is compiled again with
# -DVITC_MPI and Open MPI's flags (the only file that calls MPI); the library and build/vitc do not change.
MPICC ?= mpicc
# (not when cross-compiling: mpicc's flags and libraries are the host's)
MPI_ARCH := $(firstword $(subst -, ,$(shell $(MPICC) -dumpmachine 2>/dev/null)))
MPI ?= $(if $(and $(shell command -v $(MPICC) 2>/dev/null),$(filter $(TARGET_ARCH),$(MPI_ARCH))),1,0)
ifeq ($(MPI),1)
  MPI_CFLAGS := $(shell $(MPICC) --showme:compile)
  MPI_LIBS := $(shell $(MPICC) --showme:link)
all: $(BUILD)/vitc-mpi
endif
MPI_DIST_OBJ := $(BUILD)/obj-mpi/src/cli/dist.o
$(MPI_DIST_OBJ): src/cli/dist.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(MPI_CFLAGS) -DVITC_MPI -MMD -MP -c $< -o $@

$(BUILD)/vitc-mpi: $(filter-out %/cli/dist.o,$(CLI_OBJ)) $(MPI_DIST_OBJ) $(BUILD)/libvitc.a
	$(CC) $(LDFLAGS) -o $@ $(filter-out %/cli/dist.o,$(CLI_OBJ)) $(MPI_DIST_OBJ) $(BUILD)/libvitc.a $(LDLIBS) $(CLI_LDLIBS) $(MPI_LIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/check.h tests/unit/fixture_npy.h tests/unit/compare_params.h $(BUILD)/libvitc.a
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

# pkg-config file for the installed library; static linking adds Libs.private.
$(BUILD)/vitc.pc: include/vitc.h FORCE
	@mkdir -p $(BUILD)
	@printf '%s\n' 'prefix=$(PREFIX)' 'exec_prefix=$${prefix}' 'libdir=$(LIBDIR)' 'includedir=$(INCLUDEDIR)' '' \
	  'Name: vitc' 'Description: Vision Transformers (ViT, DeiT) in C: classify, segment, attention maps, embeddings' \
	  'Version: $(VERSION)' 'Libs: -L$${libdir} -lvitc' 'Libs.private: $(LDLIBS) -fopenmp' 'Cflags: -I$${includedir}' \
	  >$@.tmp && mv $@.tmp $@

install: all $(BUILD)/vitc.pc
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	$(INSTALL) -m 755 $(BUILD)/vitc $(DESTDIR)$(BINDIR)/vitc
	$(INSTALL) -m 644 $(BUILD)/libvitc.a $(DESTDIR)$(LIBDIR)/libvitc.a
	$(INSTALL) -m 755 $(BUILD)/libvitc.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libvitc.so.$(VERSION)
	ln -sf libvitc.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libvitc.so
	$(INSTALL) -m 644 include/vitc.h $(DESTDIR)$(INCLUDEDIR)/vitc.h
	$(INSTALL) -m 644 $(BUILD)/vitc.pc $(DESTDIR)$(PKGCONFIGDIR)/vitc.pc

# Removes exactly what install put there (directories are left: they may hold other files).
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/vitc $(DESTDIR)$(LIBDIR)/libvitc.a $(DESTDIR)$(LIBDIR)/libvitc.so \
	  $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libvitc.so.$(VERSION) \
	  $(DESTDIR)$(INCLUDEDIR)/vitc.h $(DESTDIR)$(PKGCONFIGDIR)/vitc.pc

clean:
	rm -rf $(BUILD)

FORCE:
.PHONY: all tests test deps demo fuzz bench clean install uninstall FORCE
-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(MPI_DIST_OBJ:.o=.d)
