#!/usr/bin/env bash
# A full training run from an empty folder: corpus generation, then HCNN and the
# log-mel ablation, each with the same budget. Prints wall-clock times.
# Usage: bash eval/train_from_scratch.sh WORKDIR   (default work/)
set -euo pipefail
W=${1:-work}
IRAM=${IRAM:-iram}
mkdir -p "$W"
t0=$(date +%s)
$IRAM data loops --n 1000  --split valid --out "$W/corpus/valid" --seed 1 -q
$IRAM data loops --n 1500  --split test  --out "$W/corpus/test"  --seed 1 -q
$IRAM data loops --n 12000 --split train --out "$W/corpus/train" --seed 1 -q
t1=$(date +%s)
echo "corpus: $((t1 - t0)) s"
$IRAM train --data "$W/corpus/train" --valid "$W/corpus/valid" --test "$W/corpus/test" \
  --out "$W/hcnn.pt" --epochs 20 --steps 300 --max-minutes 100 -q
t2=$(date +%s)
echo "hcnn training: $((t2 - t1)) s; corpus + hcnn: $((t2 - t0)) s"
if [ "${ABLATION:-1}" = 1 ]; then
  $IRAM train --no-harmonic --data "$W/corpus/train" --valid "$W/corpus/valid" --test "$W/corpus/test" \
    --out "$W/cnn-logmel.pt" --epochs 20 --steps 300 --max-minutes 100 -q
  echo "ablation training: $(( $(date +%s) - t2 )) s"
fi
