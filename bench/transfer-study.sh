#!/usr/bin/env bash
# The transfer study of docs/transfer.md: every row of its tables, on stellarium-dso and wesnoth-races (test splits).
# Needs the datasets (python3 ../shared/datasets/build.py NAME /tmp/data/NAME) and a Release build of the bench:
#   dotnet build -c Release bench/EfficientCnn.Bench && bash bench/transfer-study.sh [DATA_ROOT] | tee transfer.log
set -eu
# TorchSharp 0.107 temporary-scalar race (docs/known-issues.md): unoptimised JIT keeps them alive.
export DOTNET_JITMinOpts=${DOTNET_JITMinOpts:-1}
root=${1:-/tmp/data}
B=bench/EfficientCnn.Bench/bin/Release/net10.0/EfficientCnn.Bench
ours=models/ecnn_mobilenet_v2_0.5_clipart.onnx
for d in stellarium-dso wesnoth-races; do
  echo "=== $d: ML.NET ResNet18 featurizer + L-BFGS, and the same ResNet18 through our featurizer"
  $B accuracy --data "$root/$d" --backbone mlnet-resnet18 --methods mlnet,featurize --results docs/transfer-results.csv
  echo "=== $d: our pretrained backbone as featurizer + L-BFGS, and fine-tuned end to end"
  $B accuracy --data "$root/$d" --backbone "$ours" --methods featurize,finetune --resolution 112 --epochs 6 --scope all --results docs/transfer-results.csv
  echo "=== $d: the same architecture from scratch (random init), fine-tuned the same way"
  $B accuracy --data "$root/$d" --backbone mobilenet_v2_0.5 --methods finetune --resolution 112 --epochs 6 --scope all --results docs/transfer-results.csv
done
