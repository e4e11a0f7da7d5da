#!/usr/bin/env bash
# CLI: data-parallel training over MPI (build/vitc-mpi under mpirun). The same 20 steps (global batch 8,
# augmentation, drop path, EMA) on 1 (build/vitc), 2 and 4 processes: the same loss curve and
# validation losses to the printed digits, the same weights within 1e-5 (measured: about 1e-6), the
# same bits when repeated and with the all-reduce overlapped with the backward pass or not; a run stopped on 2 processes and resumed on 1; --batch not a multiple of
# the processes; a process killed at step 7 ends the job non-zero with one line and leaves complete
# checkpoints only; eval (classifiers, segmentation models, detectors) and classify over 2 and 3 processes
# print what one does. Skips when mpirun or build/vitc-mpi is missing, or without Fashion-MNIST.
source "$(dirname "$0")/lib.sh"
PY=${PYTHON:-/usr/bin/python3}
MPIVITC=${VITC_BUILD:-$(dirname "$VITC")}/vitc-mpi
CMP=$(dirname "$0")/compare_safetensors.py
if ! command -v mpirun >/dev/null || [[ ! -x $MPIVITC ]]; then
  echo "test_mpi: skipped (mpirun or $MPIVITC missing: scripts/install-deps.sh installs Open MPI, make builds vitc-mpi)"
  report test_mpi; exit
fi
if [[ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz && -z ${VITC_FASHION_MNIST:-} ]]; then
  echo "test_mpi: skipped (no Fashion-MNIST)"; report test_mpi; exit
fi
# containers: shared memory without the single-copy mechanism, no network transports needed
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_rmaps_base_oversubscribe=1
# Under AddressSanitizer (.ci/run) Open MPI's own allocations (libmpi, its dlopen'ed components) are
# reported as leaks at exit: leak checking is off for the processes mpirun starts (vitc's code paths
# are leak-checked by the single-process tests); everything else ASan and UBSan check stays on.
MPIRUN=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" mpirun -q --oversubscribe --allow-run-as-root)
TR=(--data fashion-mnist --dim 32 --depth 2 --heads 2 --mlp-dim 64 --patch 4 --pool avg --limit 40 --val-limit 50
    --batch 8 --epochs 4 --lr 1e-3 --seed 3 --threads 1 --drop-path 0.1 --ema 0.9)
curve() { grep -o 'train loss [0-9.]*.*val loss [0-9.]*' "$1"; }

expect_ok "train: 1 process" "$VITC" train "${TR[@]}" --out "$TMP/n1.safetensors"
cp "$TMP/out" "$TMP/n1.log"
for n in 2 4; do
  expect_ok "train: $n processes" "${MPIRUN[@]}" -np $n "$MPIVITC" train "${TR[@]}" --out "$TMP/n$n.safetensors"
  cp "$TMP/out" "$TMP/n$n.log"
  grep -q "data-parallel: $n processes, $((8 / n)) images of each batch of 8" "$TMP/n$n.log" && ok || bad "$n processes: no data-parallel line"
  [[ $(grep -c '^epoch' "$TMP/n$n.log") -eq 4 ]] && ok || bad "$n processes: not 4 epoch lines (only rank 0 reports)"
  [[ -n $(curve "$TMP/n1.log") && "$(curve "$TMP/n1.log")" == "$(curve "$TMP/n$n.log")" ]] && ok ||
    bad "$n processes: loss curve differs: $(curve "$TMP/n$n.log" | tr '\n' ' ')"
  for f in safetensors ckpt.safetensors; do
    out=$($PY "$CMP" "$TMP/n1.$f" "$TMP/n$n.$f" --atol 1e-5 2>&1) && ok || bad "$n processes: $f differs: $out"
    echo "  $n processes vs 1, $f: $(tail -1 <<<"$out")"
  done
done
# the same processes again: the same bits (fixed-order sums)
expect_ok "train: 2 processes again" "${MPIRUN[@]}" -np 2 "$MPIVITC" train "${TR[@]}" --out "$TMP/r2.safetensors"
cmp -s "$TMP/n2.ckpt.safetensors" "$TMP/r2.ckpt.safetensors" && ok || bad "2 processes twice: different checkpoints"
# the blocks' sums overlapped with the backward pass (the default) or all after it: the same bits
for n in 2 4; do
  expect_ok "train: $n processes, sums after the backward pass" env VITC_MPI_OVERLAP=0 "${MPIRUN[@]}" -x VITC_MPI_OVERLAP \
    -np $n "$MPIVITC" train "${TR[@]}" --out "$TMP/o$n.safetensors"
  cmp -s "$TMP/n$n.ckpt.safetensors" "$TMP/o$n.ckpt.safetensors" && ok || bad "$n processes: overlapped sums change the bits"
done

# stopped after 12 steps on 2 processes (checkpoints every 4), resumed on 1
expect_ok "train: 2 processes, stopped" "${MPIRUN[@]}" -np 2 "$MPIVITC" train "${TR[@]}" --max-steps 12 --save-every 4 --out "$TMP/s.safetensors"
expect_ok "train: resumed on 1 process" "$VITC" train --resume "$TMP/s.ckpt.safetensors" --threads 1 --quiet --out "$TMP/s.safetensors"
out=$($PY "$CMP" "$TMP/n1.ckpt.safetensors" "$TMP/s.ckpt.safetensors" --atol 1e-5 2>&1) && ok || bad "resumed on another N differs: $out"
echo "  2 processes then 1 vs 1: $(tail -1 <<<"$out")"

expect_fail "train: batch not a multiple of N" "not a multiple of the 2 processes" \
  "${MPIRUN[@]}" -np 2 "$MPIVITC" train "${TR[@]}" --batch 7 --out "$TMP/x.safetensors"
[[ ! -e $TMP/x.safetensors ]] && ok || bad "refused run left an output"

# rank 1 dies (SIGKILL) at step 7, rank 0 having checkpointed at steps 3, 5 (the end of epoch 1) and 6
mkdir -p "$TMP/k"
"${MPIRUN[@]}" -np 2 -x VITC_TEST_KILL_RANK=1 -x VITC_TEST_KILL_STEP=7 "$MPIVITC" train "${TR[@]}" --save-every 3 --quiet \
  --out "$TMP/k/k.safetensors" >"$TMP/out" 2>"$TMP/err"
rc=$?
[[ $rc -ne 0 ]] && ok || bad "killed rank: exit 0"
[[ $(wc -l <"$TMP/err") -eq 1 ]] && grep -q "another process of this MPI job ended" "$TMP/err" && ok ||
  bad "killed rank: not one line: $(head -c 400 "$TMP/err")"
[[ -z $(find "$TMP/k" -name '*.tmp.*') ]] && ok || bad "killed rank left temporary files: $(ls "$TMP/k")"
expect_ok "killed rank: its checkpoint resumes" "$VITC" train --resume "$TMP/k/k.ckpt.safetensors" --threads 1 --quiet --max-steps 1 --save-every 1 --out "$TMP/k/k2.safetensors"
grep -q "resuming .* at step 6" "$TMP/out" && ok || bad "killed rank: checkpoint not at step 6: $(cat "$TMP/out")"

# the scene loop: segmentation and detection (detection normalized by the global batch's boxes) on 2 processes
expect_ok "scenes" "$VITC" scenes --split train --count 40 --seed 21 --out "$TMP/sc"
for task in segment detect; do
  S=(--task $task --data "$TMP/sc" --dim 32 --depth 1 --heads 2 --patch 8 --epochs 2 --batch 8 --val-limit 4 --seed 5
     --threads 1 --quiet --drop-path 0.1)
  expect_ok "$task: 1 process" "$VITC" train "${S[@]}" --out "$TMP/$task-1.safetensors"
  cp "$TMP/out" "$TMP/$task-1.log"
  expect_ok "$task: 2 processes" "${MPIRUN[@]}" -np 2 "$MPIVITC" train "${S[@]}" --out "$TMP/$task-2.safetensors"
  [[ -n $(grep '^epoch' "$TMP/$task-1.log") && "$(grep '^epoch' "$TMP/$task-1.log" | sed 's/, [0-9]* s$//')" == "$(grep '^epoch' "$TMP/out" | sed 's/, [0-9]* s$//')" ]] &&
    ok || bad "$task: 2 processes: other losses: $(grep '^epoch' "$TMP/out")"
  # detection: Adam turns the rounding in near-zero gradients of unused class rows into larger steps (measured 2.5e-5)
  tol=1e-5; [[ $task == detect ]] && tol=1e-4
  out=$($PY "$CMP" "$TMP/$task-1.ckpt.safetensors" "$TMP/$task-2.ckpt.safetensors" --atol $tol 2>&1) && ok || bad "$task: 2 processes differ: $out"
  echo "  $task, 2 processes vs 1: $(tail -1 <<<"$out")"
done

# eval and classify split their images over the processes: the same report and the same per-image lines
expect_ok "a model to evaluate" "$VITC" train "${TR[@]}" --epochs 1 --quiet --out "$TMP/ev.safetensors"
for j in "" --json; do
  expect_ok "eval $j: 1 process" "$VITC" eval "$TMP/ev.safetensors" --data fashion-mnist --limit 301 --threads 1 $j
  cp "$TMP/out" "$TMP/ev1.txt"
  for n in 2 3; do
    expect_ok "eval $j: $n processes" "${MPIRUN[@]}" -np $n "$MPIVITC" eval "$TMP/ev.safetensors" --data fashion-mnist \
      --limit 301 --threads 1 $j
    cmp -s "$TMP/ev1.txt" "$TMP/out" && ok || bad "eval $j on $n processes differs: $(diff "$TMP/ev1.txt" "$TMP/out" | head -5)"
  done
done
IMGS=("$VITC_FIXTURES"/images/chelsea.png "$VITC_FIXTURES"/images/astronaut.png "$VITC_FIXTURES"/images/coffee.png
      "$VITC_FIXTURES"/images/chelsea_gray16.png "$VITC_FIXTURES"/images/astronaut_gray.png)
expect_ok "classify: 1 process" "$VITC" classify "$TMP/ev.safetensors" "${IMGS[@]}" --json --batch 2
cp "$TMP/out" "$TMP/cl1.txt"
[[ $(wc -l <"$TMP/cl1.txt") -eq 5 ]] && ok || bad "classify: not 5 lines"
for n in 2 3; do
  expect_ok "classify: $n processes" "${MPIRUN[@]}" -np $n "$MPIVITC" classify "$TMP/ev.safetensors" "${IMGS[@]}" --json --batch 2
  cmp -s "$TMP/cl1.txt" "$TMP/out" && ok || bad "classify on $n processes differs: $(diff "$TMP/cl1.txt" "$TMP/out" | head -4)"
done
printf 'not an image' >"$TMP/bad.png"
# a bad third image (rank 1's first): one process prints the two lines before it, then the error; so do 2
"$VITC" classify "$TMP/ev.safetensors" "${IMGS[0]}" "${IMGS[1]}" "$TMP/bad.png" "${IMGS[2]}" --batch 1 --json \
  >"$TMP/b1.out" 2>"$TMP/b1.err"; rc1=$?
"${MPIRUN[@]}" -np 2 "$MPIVITC" classify "$TMP/ev.safetensors" "${IMGS[0]}" "${IMGS[1]}" "$TMP/bad.png" "${IMGS[2]}" \
  --batch 1 --json >"$TMP/b2.out" 2>"$TMP/b2.err"; rc2=$?
[[ $rc1 -eq 1 && $rc2 -eq 1 ]] && ok || bad "classify with a bad image: exit $rc1 (1 process), $rc2 (2)"
[[ $(wc -l <"$TMP/b2.out") -eq 2 ]] && cmp -s "$TMP/b1.out" "$TMP/b2.out" && ok || bad "classify with a bad image: other lines"
[[ $(wc -l <"$TMP/b2.err") -eq 1 ]] && grep -q "bad.png: unknown image format" "$TMP/b2.err" && cmp -s "$TMP/b1.err" "$TMP/b2.err" &&
  ok || bad "classify with a bad image: other error: $(show_err "$TMP/b2.err") (1 process: $(show_err "$TMP/b1.err"))"
# eval of a segmentation model (confusion matrices summed) and a detector (predictions gathered in scene
# order): the report of one process, to the digit
for mdl in models/segment.safetensors "$TMP/segment-1.safetensors" "$TMP/detect-1.safetensors"; do
  for j in "" --json; do
    expect_ok "eval $(basename "$mdl") $j: 1 process" "$VITC" eval "$mdl" --data "$TMP/sc" --limit 37 --batch 4 --threads 1 $j
    cp "$TMP/out" "$TMP/se1.txt"
    for n in 2 3; do
      expect_ok "eval $(basename "$mdl") $j: $n processes" "${MPIRUN[@]}" -np $n "$MPIVITC" eval "$mdl" --data "$TMP/sc" \
        --limit 37 --batch 4 --threads 1 $j
      cmp -s "$TMP/se1.txt" "$TMP/out" && ok || bad "eval $mdl $j on $n processes differs: $(diff "$TMP/se1.txt" "$TMP/out" | head -5)"
    done
  done
done
grep -q '"map50":' "$TMP/se1.txt" && ok || bad "detector eval: no mAP in $(head -c 200 "$TMP/se1.txt")"
expect_fail "eval over MPI: a classifier's data for a detector" "no annotations.json" "${MPIRUN[@]}" -np 2 "$MPIVITC" eval \
  "$TMP/detect-1.safetensors" --data fashion-mnist

report test_mpi
