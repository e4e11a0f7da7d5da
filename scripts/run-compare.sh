#!/usr/bin/env bash
# Two (or more) training runs side by side, epoch by epoch: the test accuracy of the weights and of
# their EMA in each run's validated epochs ("-" where a run has not validated that epoch).
# Usage: scripts/run-compare.sh RUN_DIR RUN_DIR...
set -euo pipefail
(($# >= 2)) || { echo "usage: scripts/run-compare.sh RUN_DIR RUN_DIR..." >&2; exit 2; }
for r in "$@"; do [[ -f $r/run.log ]] || { echo "run-compare: no $r/run.log" >&2; exit 1; }; done
i=0
for r in "$@"; do
  i=$((i + 1))
  # the last validation of each epoch (a resumed run may repeat one)
  grep -E '^epoch [0-9]+/[0-9]+: .*val accuracy' "$r/run.log" |
    sed -E 's|^epoch ([0-9]+)/[0-9]+: .*val accuracy ([0-9.]+)%[^,]*(, EMA ([0-9.]+)%)?.*|\1 \2 \4|' |
    awk -v run="$i" '{ print run, $1, $2, ($3 == "" ? "-" : $3) }'
done | awk -v n=$# -v names="$*" '
  { w[$1, $2] = $3; e[$1, $2] = $4; if ($2 > last) last = $2 }
  END {
    split(names, nm, " ")
    printf "epoch"; for (i = 1; i <= n; i++) printf "  %-22s", substr(nm[i], length(nm[i]) > 22 ? length(nm[i]) - 21 : 1); print ""
    printf "     "; for (i = 1; i <= n; i++) printf "  %-22s", "weights   EMA"; print ""
    for (ep = 1; ep <= last; ep++) {
      any = 0; for (i = 1; i <= n; i++) if ((i, ep) in w) any = 1
      if (!any) continue
      printf "%5d", ep
      for (i = 1; i <= n; i++) printf "  %-22s", ((i, ep) in w) ? sprintf("%6.2f  %6s", w[i, ep], e[i, ep]) : "     -       -"
      print ""
    }
  }'
