#!/usr/bin/env bash
# A full training run from an empty folder, as the shipped model was made:
#   1. the loop corpus (train / valid / test sources kept apart);
#   2. the classifier trained on loops;
#   3. composed tracks: 400 from training sources (to train on their 4-bar
#      segments), 102 from validation sources (42 for early stopping, all 102
#      for thresholds);
#   4. fine-tuning on loops + training-source segments;
#   5. per-role arrangement thresholds (best accuracy) tuned on the validation tracks;
#   6. real music: Debian's tracker modules rendered (train and valid splits), 3 remixes of
#      each train module from its own stems, and a fine-tune on them with mastering
#      augmentation, early stopping and thresholds on the valid modules (hcnn 0.2.0; it was
#      made with a 1,000-loop training corpus beside the modules, this script uses its own).
# Prints wall-clock times. The ablation (ABLATION=1, the default) goes through
# steps 2, 4 and 5 the same way with the log-mel front-end.
# Usage: bash eval/train_from_scratch.sh WORKDIR   (default work/)
set -euo pipefail
W=${1:-work}
IRAM=${IRAM:-iram}
PY=${PYTHON:-python}
mkdir -p "$W"
t0=$(date +%s)
lap() { echo "$1: $(( $(date +%s) - t0 )) s since start"; }
$IRAM data loops --n 1000  --split valid --out "$W/corpus/valid" --seed 1 -q
$IRAM data loops --n 1500  --split test  --out "$W/corpus/test"  --seed 1 -q
$IRAM data loops --n 12000 --split train --out "$W/corpus/train" --seed 1 -q
lap corpus
$IRAM data tracks --n 200 --split train --seed 11 --out "$W/gridtrain" -q
$IRAM data tracks --n 200 --split train --seed 12 --out "$W/gridtrain2" -q
$IRAM data tracks --n 12 --split valid --seed 100 --out "$W/tune" -q
$IRAM data tracks --n 30 --split valid --seed 101 --out "$W/tune2" -q
$IRAM data tracks --n 60 --split valid --seed 102 --out "$W/tune3" -q
lap tracks
$IRAM data modules --out "$W/modules" --split train --jobs 2 -q
$IRAM data modules --out "$W/modules" --split valid --jobs 2 -q
$IRAM data remix --modules "$W/modules" --split train --per-module 3 --seed 1 --out "$W/remix-train" -q
lap "modules and remixes"
LOOPS=(--data "$W/corpus/train" --valid "$W/corpus/valid" --test "$W/corpus/test")
TRACKS=(--tracks "$W/gridtrain" --tracks "$W/gridtrain2" --valid-tracks "$W/tune" --valid-tracks "$W/tune2")
models=(hcnn)
[ "${ABLATION:-1}" = 1 ] && models+=(cnn-logmel)
for m in "${models[@]}"; do
  flag=(); [ "$m" = cnn-logmel ] && flag=(--no-harmonic --bands 128)  # HCNN: the default 192 bands; ablation: 128 mel bands
  $IRAM train "${flag[@]}" "${LOOPS[@]}" --out "$W/$m-loops.pt" --epochs 20 --steps 300 --max-minutes 100 -q
  lap "$m on loops"
  $IRAM train --init "$W/$m-loops.pt" "${LOOPS[@]}" "${TRACKS[@]}" --out "$W/$m-ft.pt" \
    --epochs 8 --steps 250 --lr 3e-4 --max-minutes 45 -q
  lap "$m fine-tuned on segments"
  $PY eval/tune_thresholds.py --model "$W/$m-ft.pt" --tracks "$W/tune" "$W/tune2" "$W/tune3" --out "$W/$m.pt"
  lap "$m thresholds ($W/$m.pt)"
  $IRAM train --init "$W/$m.pt" "${LOOPS[@]}" --modules "$W/modules" --tracks "$W/remix-train" --master 0.5 \
    --out "$W/$m-real.pt" --epochs 6 --steps 120 --lr 3e-4 --max-minutes 55 -q
  lap "$m fine-tuned on real music ($W/$m-real.pt)"
done
