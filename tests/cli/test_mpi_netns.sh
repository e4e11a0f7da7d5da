#!/usr/bin/env bash
# CLI: a real two-host data-parallel run. Two network namespaces (the test's own hosts) joined by a veth
# pair, addresses in 198.18.0.0/15 (the benchmarking range, RFC 2544) that exist inside the namespaces
# only; mpirun runs in the first, starts the second rank in the other through an rsh agent that enters
# that namespace (`ip netns exec`, where a cluster would use ssh), and the ranks talk over TCP on the veth
# link only (no shared-memory transport between them). The run must equal one process's: the same loss
# curve, the same weights within 1e-5 (the other MPI tests' bound). Skips without root, iproute2
# namespaces (containers without CAP_SYS_ADMIN), mpirun, build/vitc-mpi or Fashion-MNIST.
source "$(dirname "$0")/lib.sh"
PY=${PYTHON:-/usr/bin/python3}
MPIVITC=$(cd "$(dirname "$VITC")" && pwd)/vitc-mpi
CMP=$(dirname "$0")/compare_safetensors.py
skip() { echo "test_mpi_netns: skipped ($1)"; report test_mpi_netns; exit 0; }
[[ $(id -u) -eq 0 ]] || skip "not root"
command -v ip >/dev/null || skip "no iproute2"
command -v mpirun >/dev/null && [[ -x $MPIVITC ]] || skip "mpirun or $MPIVITC missing"
[[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz || -n ${VITC_FASHION_MNIST:-} ]] || skip "no Fashion-MNIST"
A=vitc_a_$$ B=vitc_b_$$ IPA=198.18.77.1 IPB=198.18.77.2
cleanup() { ip netns del "$A" 2>/dev/null; ip netns del "$B" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
ip netns add "$A" 2>/dev/null && ip netns add "$B" 2>/dev/null || skip "cannot create network namespaces"
ip link add "va$$" netns "$A" type veth peer name "vb$$" netns "$B" || skip "cannot create a veth pair"
ip -n "$A" addr add $IPA/24 dev "va$$" && ip -n "$B" addr add $IPB/24 dev "vb$$"
ip -n "$A" link set lo up && ip -n "$B" link set lo up && ip -n "$A" link set "va$$" up && ip -n "$B" link set "vb$$" up

# the rsh agent: Open MPI calls it as `agent HOST COMMAND...`; the host is an address, its namespace the host
cat >"$TMP/agent" <<AGENT
#!/bin/sh
host=\$1; shift
case \$host in $IPA) ns=$A ;; $IPB) ns=$B ;; *) echo "agent: unknown host \$host" >&2; exit 1 ;; esac
echo "\$ns" >>"$TMP/agent.log"
exec ip netns exec "\$ns" sh -c "\$*"
AGENT
chmod +x "$TMP/agent"
printf '%s slots=1\n%s slots=1\n' $IPA $IPB >"$TMP/hosts"
TR=(--data fashion-mnist --dim 32 --depth 2 --heads 2 --mlp-dim 64 --patch 4 --pool avg --limit 40 --val-limit 50
    --batch 8 --epochs 2 --lr 1e-3 --seed 3 --threads 1 --ema 0.9)
curve() { grep -o 'train loss [0-9.]*.*val loss [0-9.]*' "$1"; }
expect_ok "train: 1 process" "$VITC" train "${TR[@]}" --out "$TMP/n1.safetensors"
cp "$TMP/out" "$TMP/n1.log"
unset OMPI_MCA_btl
expect_ok "train: 2 hosts" env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" ip netns exec "$A" \
  mpirun -q --allow-run-as-root -np 2 --hostfile "$TMP/hosts" --map-by node \
  --mca plm_rsh_agent "$TMP/agent" --mca btl self,tcp --mca btl_tcp_if_include 198.18.77.0/24 \
  --mca oob_tcp_if_include 198.18.77.0/24 -x PATH -x LD_LIBRARY_PATH -x OMPI_MCA_rmaps_base_oversubscribe=1 \
  -x ASAN_OPTIONS "$MPIVITC" train "${TR[@]}" --out "$TMP/n2.safetensors"
cp "$TMP/out" "$TMP/n2.log"
[[ $(cat "$TMP/agent.log" 2>/dev/null) == "$B" ]] && ok || bad "2 hosts: the second rank was not started in $B"
grep -q "data-parallel: 2 processes" "$TMP/n2.log" && ok || bad "2 hosts: no data-parallel line: $(head -c 300 "$TMP/err")"
[[ -n $(curve "$TMP/n1.log") && "$(curve "$TMP/n1.log")" == "$(curve "$TMP/n2.log")" ]] && ok ||
  bad "2 hosts: loss curve differs: $(curve "$TMP/n2.log" | tr '\n' ' ')"
out=$($PY "$CMP" "$TMP/n1.ckpt.safetensors" "$TMP/n2.ckpt.safetensors" --atol 1e-5 2>&1) && ok || bad "2 hosts differ: $out"
echo "  2 hosts (namespaces over veth, TCP) vs 1 process: $(tail -1 <<<"$out")"
report test_mpi_netns
