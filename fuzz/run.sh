#!/bin/bash
# Builds the fuzz targets (stable toolchain: libFuzzer through libfuzzer-sys, coverage from
# rustc's SanitizerCoverage pass added by fuzz/rustc-sancov) and runs each one.
#   fuzz/run.sh [--runs N] [--jobs J] [TARGET...]     (default: every target, 1,000,000 runs each)
# Grown corpora go to target/fuzz/corpus/TARGET, findings to target/fuzz/findings/TARGET, the
# libFuzzer log to target/fuzz/logs/TARGET.log, inputs whose decoder panic McGurk contained (an
# error, not a crash, but a bug to look at) to target/fuzz/contained/TARGET. Limits: 2 GiB RSS
# (libFuzzer), 1 GiB for one allocation (fuzz/src/lib.rs), 10 s per input. A finding is fixed,
# then its input is copied to fuzz/regressions/TARGET/ where `cargo test` replays it.
set -euo pipefail
cd "$(dirname "$0")"
self="$PWD/$(basename "$0")"
runs=1000000
jobs=1
targets=()
while (($#)); do
    case "$1" in
        --runs) runs="$2"; shift 2 ;;
        --jobs) jobs="$2"; shift 2 ;;
        -h | --help) sed -n '2,9p' "$self"; exit 0 ;;
        *) targets+=("$1"); shift ;;
    esac
done
all=(probe open h264 still safetensors pth model spec session manifest)
((${#targets[@]})) || targets=("${all[@]}")

export CARGO_TARGET_DIR="$PWD/../target/fuzz"
export RUSTC_WRAPPER="$PWD/rustc-sancov"
cargo build --locked $(printf -- '--bin %s ' "${targets[@]}")

max_len() {
    case "$1" in
        probe | open | model | pth) echo 65536 ;;
        still) echo 16384 ;;
        *) echo 4096 ;;
    esac
}

run_one() {
    local t="$1"
    local dir="$CARGO_TARGET_DIR"
    mkdir -p "$dir/corpus/$t" "$dir/findings/$t" "$dir/contained/$t" "$dir/logs"
    local start=$SECONDS
    local rc=0
    MCGURK_FUZZ_CONTAINED="$dir/contained/$t" "$dir/debug/$t" "$dir/corpus/$t" "seeds/$t" \
        -runs="$runs" -rss_limit_mb=2048 -timeout=10 -max_len="$(max_len "$t")" \
        -artifact_prefix="$dir/findings/$t/" -print_final_stats=1 \
        >"$dir/logs/$t.log" 2>&1 || rc=$?
    local execs cov corpus
    execs=$(grep -a -o 'stat::number_of_executed_units: *[0-9]*' "$dir/logs/$t.log" | grep -o '[0-9]*$' || echo '?')
    cov=$(grep -a -o 'cov: [0-9]*' "$dir/logs/$t.log" | tail -1 | grep -o '[0-9]*' || echo '?')
    local found
    found=$(find "$dir/findings/$t" -type f | wc -l)
    corpus=$(grep -a -o 'corp: [0-9]*' "$dir/logs/$t.log" | tail -1 | grep -o '[0-9]*' || echo '?')
    printf '%-12s exit %-3s executions %-9s coverage %-6s corpus %-6s findings %-3s %5ss\n' \
        "$t" "$rc" "$execs" "$cov" "$corpus" "$found" "$((SECONDS - start))"
    grep -a -h '^contained decoder panic' "$dir/logs/$t.log" | sort -u | sed 's/^/    /' || true
}

export -f run_one max_len
export runs
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one {}'
