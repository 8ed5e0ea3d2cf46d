#!/usr/bin/env bash
# Data: python3 ../shared/datasets/build.py {wesnoth-races,stellarium-dso} /tmp/data/NAME
# Reproduces docs/transfer.md "Session 7" (test-split rows). C: the efficientcnn CLI (Release build).
C=${C:-$PWD/src/EfficientCnn.Cli/bin/Release/net10.0/efficientcnn}   # run from the repository root
OUT=${OUT:-/tmp/auto7}; mkdir -p "$OUT"
cd "$OUT"
echo "== head-only wesnoth (full train split) $(date)"
$C train --data /tmp/data/wesnoth-races/split.csv --backbone ecnn_resnet18_tucker2_fm --scope head --validation-fraction 0 --epochs 10 --output $OUT/wes-head5.zip > wes-head5.log 2>&1
tail -1 wes-head5.log
$C evaluate --model $OUT/wes-head5.zip --data /tmp/data/wesnoth-races/split.csv --split test 2>&1 | grep Micro
echo "== fine-tune stellarium (train default: validation 0.2, LP-FT) $(date)"
$C train --data /tmp/data/stellarium-dso/split.csv --backbone ecnn_resnet18_tucker2_fm --epochs 6 --output $OUT/stel-ft.zip > stel-ft.log 2>&1
grep -i "epoch\b\|Saved\|Validation (" stel-ft.log | tail -3
$C evaluate --model $OUT/stel-ft.zip --data /tmp/data/stellarium-dso/split.csv --split test 2>&1 | grep Micro
echo "== auto wesnoth grouped $(date)"
$C train --data /tmp/data/wesnoth-races/split.csv --backbone auto --time 5m --group-pattern '^[^-+.]+' --output $OUT/wes-auto3.zip > wes-auto3.log 2>&1
grep -A8 Leaderboard wes-auto3.log | tail -6
tail -2 wes-auto3.log
$C evaluate --model $OUT/wes-auto3.zip --data /tmp/data/wesnoth-races/split.csv --split test 2>&1 | grep Micro
echo "== auto stellarium $(date)"
$C train --data /tmp/data/stellarium-dso/split.csv --backbone auto --time 5m --output $OUT/stel-auto3.zip > stel-auto3.log 2>&1
grep -A8 Leaderboard stel-auto3.log | tail -6
tail -2 stel-auto3.log
$C evaluate --model $OUT/stel-auto3.zip --data /tmp/data/stellarium-dso/split.csv --split test 2>&1 | grep Micro
echo "== done $(date)"
