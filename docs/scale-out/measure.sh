#!/usr/bin/env bash
# Overhead of `predict --cluster` against local predict on one machine: the same images and model, local predict
# twice, then the cluster with 1 silo (all cores) and with 3 silos (--threads 1 each), twice each, silos started
# beforehand (their start-up is a once-per-worker cost, not a per-job one). Prints wall times of the commands.
# Usage: measure.sh MODEL.zip IMAGES/ WORKDIR/ [REDIS_PORT]
set -euo pipefail
model=$1 images=$2 work=$3 port=${4:-16398}
tool=${EFFICIENTCNN:-efficientcnn}
mkdir -p "$work"; cd "$work"
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no > redis.log 2>&1 & redis=$!
silos=()
trap 'kill $redis ${silos[@]:-} 2>/dev/null || true' EXIT
sleep 1
cluster=redis://127.0.0.1:$port
n=$(find "$images" -type f -iname '*.png' | wc -l)
wall() { local s=$(date +%s.%N); "$@" > last.log 2>&1; echo "$(date +%s.%N) - $s" | bc; }

for run in 1 2; do echo "local run $run: $(wall "$tool" predict --model "$model" --input "$images" --output local.csv) s for $n images"; grep -A1 Classified last.log | tr -d "\n"; echo; done

start_silos() { # count threads
  for i in $(seq "$1"); do "$tool" silo --cluster "$cluster" ${2:+--threads $2} > "silo-$1-$i.log" 2>&1 & silos+=($!); done
  for i in $(seq "$1"); do until grep -q ready "silo-$1-$i.log"; do sleep 0.5; done; done
}
stop_silos() { kill -TERM "${silos[@]}"; wait "${silos[@]}" 2>/dev/null || true; silos=(); }

start_silos 1 ""
for run in 1 2; do echo "cluster 1 silo run $run: $(wall "$tool" predict --model "$model" --input "$images" --output c1.csv --cluster "$cluster") s"; grep Classified last.log; done
stop_silos
start_silos 3 1
for run in 1 2; do echo "cluster 3 silos x 1 thread run $run: $(wall "$tool" predict --model "$model" --input "$images" --output c3.csv --cluster "$cluster") s"; grep Classified last.log; done
stop_silos
cmp local.csv c1.csv && cmp local.csv c3.csv && echo "outputs identical to local predict"
