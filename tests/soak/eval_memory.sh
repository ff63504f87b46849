#!/bin/bash
# Memory of a long evaluation: `mcgurk eval` over a CSV manifest of N rows (the demo clips over
# and over), for two sizes of N; the peak resident memory must not grow with N (clips are
# decoded as they are evaluated, a few ahead). Not part of the test suite (minutes); run it as
#   tests/soak/eval_memory.sh [target/debug/mcgurk] [200 2000]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$here/target/debug/mcgurk}
shift || true
sizes=${*:-200 2000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
data=$here/assets/data/farm-av
# The demo's audio + picture pairs that share a name.
pairs=()
for audio in "$data"/*/*.ogg; do
    stem=${audio%.ogg}
    for ext in png webp; do
        if [ -f "$stem.$ext" ]; then
            class=$(basename "$(dirname "$audio")")
            pairs+=("$audio;$stem.$ext,$class")
        fi
    done
done
printf 'rows  clips/h  peak RSS (MiB)  seconds\n'
for n in $sizes; do
    manifest=$work/manifest-$n.csv
    echo "path,label,split" > "$manifest"
    for ((i = 0; i < n; i++)); do
        echo "${pairs[i % ${#pairs[@]}]},test" >> "$manifest"
    done
    start=$(date +%s.%N)
    /usr/bin/time -f '%M' -o "$work/rss" "$bin" eval --data "$manifest" --model audio --method fgsm \
        --out "$work/out-$n" > "$work/table-$n.txt" 2> "$work/log-$n.txt"
    end=$(date +%s.%N)
    secs=$(echo "$end - $start" | bc)
    rss_kib=$(tail -1 "$work/rss")
    clips=$(grep -c '"kind":"clip"' "$work/out-$n/shard-0-of-1.jsonl")
    printf '%5d  %7.0f  %14.1f  %7.1f\n' "$n" "$(echo "$clips * 3600 / $secs" | bc -l)" "$(echo "$rss_kib / 1024" | bc -l)" "$secs"
done
