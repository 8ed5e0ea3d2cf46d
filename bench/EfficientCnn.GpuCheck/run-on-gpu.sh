#!/usr/bin/env bash
# Runs EfficientCnn.GpuCheck on a lent GPU machine that has no .NET SDK (docs/gpu.md says how the pieces got there):
# /tmp/g holds app.tar.zst (the self-contained publish with ONNX Runtime's CUDA build of libonnxruntime.so) and
# cuda.zst.NN (the chunks of libonnxruntime_providers_cuda.so, too big for one transfer). CUDA 13 and cuDNN 9 come
# from the machine's own PyTorch wheels (nvidia-* packages).
set -euo pipefail
G=/tmp/g
[ -d $G/gpucheck ] || zstd -dc $G/app.tar.zst | tar -xf - -C $G
[ -f $G/gpucheck/libonnxruntime_providers_cuda.so ] || cat $G/cuda.zst.0* | zstd -dc > $G/gpucheck/libonnxruntime_providers_cuda.so
nv=$(python3 -c "import nvidia; print(list(nvidia.__path__)[0])")
export LD_LIBRARY_PATH="$(ls -d "$nv"/*/lib | tr '\n' ':')${LD_LIBRARY_PATH:-}"
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
nproc
$G/gpucheck/EfficientCnn.GpuCheck samples/data/clipart4 "" "${1:-8}"
