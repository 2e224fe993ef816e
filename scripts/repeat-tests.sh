#!/usr/bin/env bash
# Clone the repository afresh N times and run the README's test command (`make test`) in each clone,
# one line per run and a total at the end: the check that the suite passes on a fresh clone every
# time, not just on a warm working tree. Usage: scripts/repeat-tests.sh [N] (default 20).
# Each clone is a new folder with a new .venv; set KEEP=1 to keep the clones of failed runs.
set -uo pipefail
runs="${1:-20}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/ncodec-repeat.XXXXXX")"
passed=0
for i in $(seq 1 "$runs"); do
    clone="$work/run-$i"
    git clone --quiet "$repo" "$clone"
    start=$(date +%s)
    if (cd "$clone" && make test) > "$work/run-$i.log" 2>&1; then
        status=pass
        passed=$((passed + 1))
    else
        status=FAIL
    fi
    summary=$(grep -E '^[0-9]+ (passed|failed)|^FAILED|^ERROR|[0-9]+ (passed|failed).* in ' "$work/run-$i.log" | tail -n 3 | tr '\n' ' ')
    echo "run $i/$runs: $status in $(( $(date +%s) - start )) s  ${summary}"
    if [ "$status" = pass ] || [ "${KEEP:-0}" != 1 ]; then
        rm -rf "$clone"
    fi
done
echo "total: $passed of $runs fresh-clone runs passed (logs in $work)"
[ "$passed" -eq "$runs" ]
