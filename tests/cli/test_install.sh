#!/usr/bin/env bash
# make install / uninstall into a temporary DESTDIR: the files and links (soname chain), vitc.pc,
# and the example C program (examples/c/classify.c) built through pkg-config alone, against the
# shared library and against the static one, agreeing with `vitc classify` on an example image.
source "$(dirname "$0")/lib.sh"
PY=${PYTHON:-/usr/bin/python3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=${VITC_BUILD:-$ROOT/build}
BUILD_REL=${BUILD_DIR#"$ROOT"/}
VITC=${VITC:-$BUILD_DIR/vitc}
MODEL=$ROOT/models/default.safetensors
IMG=$ROOT/examples/images/0009_sneaker.png
CC=${CC:-cc}
PREFIX=/opt/vitc-test
STAGE=$TMP/stage
LIBDIR=$STAGE$PREFIX/lib
VERSION=$("$VITC" --version | awk '{print $2}')
MAJOR=${VERSION%%.*}
# a sanitizer build's objects need the sanitizer runtimes at link time (not part of vitc.pc)
SANFLAGS=""
if ldd "$BUILD_DIR/libvitc.so" 2>/dev/null | grep -q libasan; then SANFLAGS="-fsanitize=address,undefined"; fi

expect_ok "make install" env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory -C "$ROOT" BUILD="$BUILD_REL" PREFIX=$PREFIX DESTDIR="$STAGE" install
for f in bin/vitc lib/libvitc.a lib/libvitc.so.$VERSION include/vitc.h lib/pkgconfig/vitc.pc; do
  [[ -f $STAGE$PREFIX/$f && ! -L $STAGE$PREFIX/$f ]] && ok || bad "installed file $f missing"
done
[[ $(readlink "$LIBDIR/libvitc.so") == "libvitc.so.$MAJOR" && $(readlink "$LIBDIR/libvitc.so.$MAJOR") == "libvitc.so.$VERSION" ]] &&
  ok || bad "symlinks: $(ls -l "$LIBDIR")"
readelf -d "$LIBDIR/libvitc.so.$VERSION" | grep -q "Library soname: \[libvitc.so.$MAJOR\]" && ok || bad "soname"
[[ -x $STAGE$PREFIX/bin/vitc && $("$STAGE$PREFIX/bin/vitc" --version) == "vitc $VERSION" ]] && ok || bad "installed vitc --version"
cmp -s "$ROOT/include/vitc.h" "$STAGE$PREFIX/include/vitc.h" && ok || bad "installed header differs"

# pkg-config on the staged tree: the .pc names the final prefix; the sysroot maps it into DESTDIR
export PKG_CONFIG_PATH=$LIBDIR/pkgconfig PKG_CONFIG_SYSROOT_DIR=$STAGE PKG_CONFIG_LIBDIR=$LIBDIR/pkgconfig
[[ $(pkg-config --modversion vitc) == "$VERSION" ]] && ok || bad "pkg-config --modversion: $(pkg-config --modversion vitc 2>&1)"
grep -q "^prefix=$PREFIX$" "$LIBDIR/pkgconfig/vitc.pc" && ok || bad "vitc.pc prefix: $(cat "$LIBDIR/pkgconfig/vitc.pc")"
[[ $(pkg-config --libs vitc | xargs) == "-L$LIBDIR -lvitc" ]] && ok || bad "pkg-config --libs: $(pkg-config --libs vitc)"
pkg-config --static --libs vitc | grep -q -- "-ljpeg -lpng -lz -lm -fopenmp" && ok || bad "pkg-config --static --libs: $(pkg-config --static --libs vitc)"
[[ $(pkg-config --cflags vitc | xargs) == "-I$STAGE$PREFIX/include" ]] && ok || bad "pkg-config --cflags: $(pkg-config --cflags vitc)"

# shared: only pkg-config's flags; static: the same with libvitc taken from its archive
# shellcheck disable=SC2046
expect_ok "build against the shared library" $CC -std=c11 -Wall -Wextra -Werror $SANFLAGS "$ROOT/examples/c/classify.c" \
  $(pkg-config --cflags --libs vitc) -o "$TMP/classify_shared"
static_libs=$(pkg-config --static --libs vitc | sed 's/\(^\| \)-lvitc\( \|$\)/ -Wl,-Bstatic -lvitc -Wl,-Bdynamic /')
# shellcheck disable=SC2086
expect_ok "build against the static library" $CC -std=c11 -Wall -Wextra -Werror $SANFLAGS "$ROOT/examples/c/classify.c" \
  $(pkg-config --cflags vitc) $static_libs -o "$TMP/classify_static"
readelf -d "$TMP/classify_shared" | grep -q "NEEDED.*\[libvitc.so.$MAJOR\]" && ok || bad "shared program does not need libvitc.so.$MAJOR"
readelf -d "$TMP/classify_static" | grep -q "NEEDED.*libvitc" && bad "static program needs libvitc.so" || ok

"$VITC" classify "$MODEL" "$IMG" --json --top 1 >"$TMP/cli.json" && ok || bad "vitc classify"
want=$($PY -c 'import json,sys; t = json.load(open(sys.argv[1]))["top"][0]; print(t["index"], "%.6g" % t["prob"], t["label"])' "$TMP/cli.json")
for kind in shared static; do
  if LD_LIBRARY_PATH=$LIBDIR "$TMP/classify_$kind" "$MODEL" "$IMG" >"$TMP/$kind.out" 2>"$TMP/$kind.err"; then ok; else
    bad "classify_$kind: $(head -c 300 "$TMP/$kind.err")"; fi
  [[ $(head -1 "$TMP/$kind.out") == "$want" ]] && ok || bad "classify_$kind top-1 '$(head -1 "$TMP/$kind.out")' against the CLI's '$want'"
  [[ $(sed -n 2p "$TMP/$kind.out") == "library $VERSION, header $VERSION" ]] && ok || bad "classify_$kind versions: $(sed -n 2p "$TMP/$kind.out")"
done
LD_LIBRARY_PATH=$LIBDIR "$TMP/classify_shared" "$MODEL" "$TMP/nope.png" >/dev/null 2>"$TMP/err"
[[ $? -eq 1 ]] && grep -q "nope.png" "$TMP/err" && ok || bad "classify_shared on a missing image: $(cat "$TMP/err")"

expect_ok "make uninstall" env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory -C "$ROOT" BUILD="$BUILD_REL" PREFIX=$PREFIX DESTDIR="$STAGE" uninstall
left=$(find "$STAGE" ! -type d)
[[ -z $left ]] && ok || bad "left after uninstall: $left"
report test_install
