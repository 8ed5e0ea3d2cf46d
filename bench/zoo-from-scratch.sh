#!/usr/bin/env bash
# Transfer study, "each zoo family trained from scratch" (docs/transfer.md): one small variant per family, random
# init, fine-tuned end to end with the same recipe, rows appended to docs/transfer-results.csv.
# stellarium's 512-1024 px PNGs are first shrunk to a shorter side of 256 (decoding them dominated every epoch):
#   mkdir -p /tmp/data/stellarium-dso-256 && (cd /tmp/data/stellarium-dso && find . -name '*.png' | xargs -P 2 -I{} \
#     sh -c 'mkdir -p ../stellarium-dso-256/$(dirname {}) && convert {} -resize "256x256^>" ../stellarium-dso-256/{}') \
#     && cp /tmp/data/stellarium-dso/split.csv /tmp/data/stellarium-dso-256/
# Usage: bash bench/zoo-from-scratch.sh DATA_DIR EPOCHS [VARIANT...]
set -eu
# TorchSharp 0.107 temporary-scalar race (docs/known-issues.md): unoptimised JIT keeps them alive.
export DOTNET_JITMinOpts=${DOTNET_JITMinOpts:-1}
data=$1; epochs=$2; shift 2
B=bench/EfficientCnn.Bench/bin/Release/net10.0/EfficientCnn.Bench
variants=${*:-mobilenet_v1_0.5 mobilenet_v2_0.5 shufflenet_v1_g3_0.5 shufflenet_v2_0.5 mnasnet_b1_0.5 efficientnet_b0 resnet18 googlenet nfnet_f0}
for v in $variants; do
  # NFNet-F0 costs 12 GFLOPs at 256 px: trained at 64 px to fit this 2-core machine.
  r=112; [ "$v" = nfnet_f0 ] && r=64
  echo "=== $v from scratch on $data, $r px, $epochs epochs"
  $B accuracy --data "$data" --backbone "$v" --methods finetune --resolution $r --epochs "$epochs" --scope all --results docs/transfer-results.csv --dataset "$(basename "$data" | sed "s/-256$//")"
done
