#!/usr/bin/env bash
# Reproduces the shipped demo zoo: seven small models (five fusions + audio-only + visual-only)
# trained with McGurk's own `train` command on the farm-animal data in assets/data/farm-av,
# GCompris recordings/photos for training, Tux Paint recordings/stamps held out.
#
#   bash assets/models/train_zoo.sh            # all seven, ~N min on 2 cores (see README.md here)
#   bash assets/models/train_zoo.sh sum film   # some of them
#
# Writes assets/models/<name>.safetensors (f16) and assets/models/logs/<name>.json (DEST=dir
# writes there instead; MCGURK=path/to/mcgurk uses that binary instead of building one;
# DATA=dir trains on another dataset folder (e.g. assets/data/farm-av-drawn, made by
# assets/data/make_drawings.sh); AVERAGE=N saves the mean of the last N epochs' weights, an experiment the shipped zoo does
# not use: see README.md here).
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:-assets/data/farm-av}
EPOCHS=${EPOCHS:-30}
SAMPLES=${SAMPLES:-64}
SEED=${SEED:-7}
models=("$@")
[ ${#models[@]} -eq 0 ] && models=(sum concat film gated_sum gated_concat audio visual)
DEST=${DEST:-assets/models}
if [ -z "${MCGURK:-}" ]; then
  cargo build --locked --quiet
  MCGURK=./target/debug/mcgurk
fi
mkdir -p "$DEST/logs"
for m in "${models[@]}"; do
  out=$(mktemp -d)
  echo "== $m"
  /usr/bin/time -f "$m: %e s wall, %M KB peak" "$MCGURK" train \
    --data "$DATA" --holdout tuxpaint --fusion "$m" --size small \
    --epochs "$EPOCHS" --batch 16 --samples-per-epoch "$SAMPLES" --lr 1e-3 --optimizer adam \
    --seed "$SEED" --modality-dropout 0.25 ${AVERAGE:+--average-last $AVERAGE} --out "$out" --name "$m" --half
  cp "$out/$m.safetensors" "$DEST/$m.safetensors"
  cp "$out/train_log.json" "$DEST/logs/$m.json"
  rm -rf "$out"
done
