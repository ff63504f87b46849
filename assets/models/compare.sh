#!/usr/bin/env bash
# The comparison of robust training (issue "class-wise robustness"): one fusion trained five
# ways on the same data with the zoo's recipe -- vanilla, density-convexity mixup, fast
# adversarial training, MinSim, MaxSim -- then evaluated on the held-out clips under one attack,
# each also behind ExFMem (adaptive attack): Tian's defense table (clean, xA, xV, xAV, Avg, RI
# against vanilla) and Li's (mAP, AUC, d'), plus seconds per epoch.
#
#   bash assets/models/compare.sh                # sum fusion, into /tmp/mcgurk-compare
#   FUSION=film OUT=/some/dir bash assets/models/compare.sh
#
# MCGURK=path/to/mcgurk uses that binary instead of building one. Runs already in OUT are reused.
set -euo pipefail
cd "$(dirname "$0")/../.."
FUSION=${FUSION:-sum}
OUT=${OUT:-/tmp/mcgurk-compare}
EPOCHS=${EPOCHS:-30}
SEED=${SEED:-7}
if [ -z "${MCGURK:-}" ]; then
  cargo build --locked --quiet
  MCGURK=./target/debug/mcgurk
fi
mkdir -p "$OUT"
common=(--data assets/data/farm-av --holdout tuxpaint --fusion "$FUSION" --size small
  --epochs "$EPOCHS" --batch 16 --samples-per-epoch 64 --lr 1e-3 --optimizer adam
  --seed "$SEED" --modality-dropout 0.25)
declare -A extra=(
  [vanilla]=""
  [dc_mixup]="--dc-mixup --mixup-kappa 0.5 --mixup-rho median --mixup-views 8 --mixup-prob 0.5"
  [adversarial]="--adversarial --adv-eps-a 0.01 --adv-eps-v 0.0314"
  [minsim]="--similarity minsim --similarity-weight 1"
  [maxsim]="--similarity maxsim --similarity-weight 1"
)
runs=(vanilla dc_mixup adversarial minsim maxsim)
for run in "${runs[@]}"; do
  if [ -f "$OUT/$run/$run.safetensors" ]; then
    echo "== $run: reusing $OUT/$run (delete it to train again)"
    continue
  fi
  echo "== $run"
  # shellcheck disable=SC2086
  "$MCGURK" train "${common[@]}" ${extra[$run]} --out "$OUT/$run" --name "$run" 2>"$OUT/$run.progress"
done
echo
echo "seconds per epoch (mean over the run):"
for run in "${runs[@]}"; do
  python3 -c "import json,sys; e=json.load(open(sys.argv[1]))['epochs']; print(f'  {sys.argv[2]:<12} {sum(x[\"seconds\"] for x in e)/len(e):6.1f}')" "$OUT/$run/train_log.json" "$run"
done
models=()
for run in "${runs[@]}"; do models+=(--model "$OUT/$run/$run.safetensors"); done
"$MCGURK" eval --data assets/data/farm-av --holdout tuxpaint --split test "${models[@]}" \
  --exfmem --baseline vanilla \
  --method pgd --steps 10 --eps-a 0.01 --eps-v 0.0314 --json "$OUT/eval.json"
