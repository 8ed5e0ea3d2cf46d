#!/usr/bin/env bash
# Issue 7's last step on a lent GPU machine (docs/search-study.md, docs/gpu.md): checks TorchSharp on CUDA, then
# retrains the best searched specs and the zoo variants near the latency target with the full recipe (from scratch,
# 10 epochs, 112 px, precise BN) on stellarium's train split, scored on its test split, three seeds in three lanes.
#
# The machine has no .NET SDK and no TorchSharp CUDA package is served here, so (see docs/gpu.md):
#  - .gpu/bench/app.tar.zst: `dotnet publish bench/EfficientCnn.Bench -c Release -r linux-x64 --self-contained` with
#    libtorch's CPU libraries and the ML.NET ResNet18 ONNX removed (transfer limit), TorchSharp's own
#    libLibTorchSharp.so kept: it is linked against the machine's PyTorch libtorch (2.11 + CUDA 13; TorchSharp 0.107
#    is built for 2.10 and every symbol it needs resolves there: checked with nm before this run);
#  - .gpu/bench/data.tar: stellarium-dso with a shorter side of 128 px (the 256 px copy does not fit the transfer);
#  - .gpu/zt: a zstd binary (the machine has none) and its libz/liblzma/liblz4.
# Made here with (the carry is 64 MiB including the tracked tree, hence what is removed):
#   dotnet publish bench/EfficientCnn.Bench -c Release -r linux-x64 --self-contained -o /tmp/benchpub
#   (cd /tmp/benchpub && rm -rf DnnImageModels models *.pdb libLdaNative.so.dbg libaoti_custom_ops.so libc10.so libgomp-*.so.1 \
#     libjitbackend_test.so libnnapi_backend.so libshm.so libtorch.so libtorch_cpu.so libtorch_global_deps.so libtorch_python.so \
#     libtorchbind_test.so libmscordaccore.so libmscordbi.so libclrgc.so libclrgcexp.so libcoreclrtraceptprovider.so createdump \
#     Microsoft.VisualBasic.Core.dll)    # keep libSkiaSharp.so: image decoding
#   (cd /tmp && tar -cf - benchpub) | zstd -19 -T2 -o .gpu/bench/app.tar.zst     # ~44 MB
#   tar -cf .gpu/bench/data.tar -C /tmp/data stellarium-dso-128                     # ~11 MB
# Usage (device tool): [SEEDS="1 2 3"] [CHECK=0] bash bench/search-retrain-on-gpu.sh SPEC.json... ; results in $OUT.
set -uo pipefail
G=/tmp/g; mkdir -p $G
[ -d $G/benchpub ] || LD_LIBRARY_PATH=.gpu/zt .gpu/zt/zstd -dc .gpu/bench/app.tar.zst | tar -xf - -C $G
[ -d $G/stellarium-dso-128 ] || tar -xf .gpu/bench/data.tar -C $G
torchlib=$(python3 -c "import torch, os; print(os.path.dirname(torch.__file__) + '/lib')")
nv=$(python3 -c "import nvidia; print(list(nvidia.__path__)[0])")
export LD_LIBRARY_PATH="$torchlib:$(ls -d "$nv"/*/lib | tr '\n' ':')"
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 DOTNET_JITMinOpts=1
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
B=$G/benchpub/EfficientCnn.Bench
data=$G/stellarium-dso-128
python3 -c "import torch; print('PyTorch', torch.__version__, 'CUDA', torch.version.cuda)"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
nproc

# 1. TorchSharp on CUDA: one fine-tuning epoch of mobilenet_v2_1.0 (224 px, 128 images), CUDA then CPU.
device=cuda
[ "${CHECK:-1}" = 0 ] || for d in cuda cpu; do
  echo "=== finetune-child --device $d"
  if ! timeout 120 $B finetune-child --images $data --count 128 --resolution 224 --scope All --device $d 2>&1 | tail -5 | tee "$OUT/finetune-$d.txt"; then :; fi
  [ "$d" = cuda ] && ! grep -q RESULT "$OUT/finetune-$d.txt" && device=cpu
done
echo "=== retraining on $device"

# 2. Retraining: one lane per seed, each with a share of the cores; every row is appended as soon as it is measured.
specs=("$@")
zoo=(mnasnet_a1 mobilenet_v2_1.0 mobilenet_v2_0.5 mnasnet_b1_0.5) # the nearest hand-designed points first
lane() {
  local seed=$1
  for backbone in "${specs[@]}" "${zoo[@]}"; do
    echo "=== seed $seed: $backbone"
    EFFICIENTCNN_THREADS=5 $B accuracy --data $data --dataset stellarium-dso --backbone "$backbone" --methods finetune --scope all \
      --resolution 112 --epochs 10 --seed "$seed" --device $device --note "H200 $device; shorter side 128" \
      --results "$OUT/retrained-seed$seed.csv" 2>&1 | grep -E "^  (micro|epoch 10)|error|Exception"
  done
}
for seed in ${SEEDS:-1 2 3}; do lane $seed > "$OUT/lane-$seed.log" 2>&1 & done
wait
cat "$OUT"/lane-*.log
