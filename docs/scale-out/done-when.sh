#!/usr/bin/env bash
# The issue-19 acceptance run on one machine: Redis on loopback, 3 silo processes, `predict --cluster` over a folder
# of images, one silo SIGKILLed midway, the client SIGKILLed too and the same command run again; the output is
# compared with local predict's, row for row. Usage: done-when.sh MODEL.zip IMAGES/ WORKDIR/ [REDIS_PORT]
set -euo pipefail
model=$1 images=$2 work=$3 port=${4:-16399}
tool=${EFFICIENTCNN:-efficientcnn}
mkdir -p "$work"; cd "$work"
rm -f local.csv cluster.csv silo*.log client*.log
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no > redis.log 2>&1 & redis=$!
trap 'kill $redis ${silos[@]:-} 2>/dev/null || true' EXIT
sleep 1
cluster=redis://127.0.0.1:$port

echo "== local predict"; /usr/bin/time -f "local wall %e s" "$tool" predict --model "$model" --input "$images" --output local.csv

silos=()
for i in 0 1 2; do "$tool" silo --cluster "$cluster" --threads 1 > "silo$i.log" 2>&1 & silos+=($!); done
for i in 0 1 2; do until grep -q "ready" "silo$i.log"; do sleep 0.5; done; done
echo "== 3 silos ready"

"$tool" predict --model "$model" --input "$images" --output cluster.csv --cluster "$cluster" > client1.log 2>&1 & client=$!
# Kill silo 0 once it has finished 5 shards (it is holding its 6th), then the client once a third of the job is done.
until [ "$(grep -c 'Shard ' silo0.log || true)" -ge 5 ]; do sleep 0.2; done
kill -KILL "${silos[0]}"; echo "== SIGKILLed silo 0 ($(grep -c 'Shard ' silo0.log) shards done)"
until grep -qE '\[ *(3[3-9]|[4-9][0-9])\.[0-9]%\]' client1.log; do sleep 0.2; done
kill -KILL "$client"; echo "== SIGKILLed the client at: $(grep '%\]' client1.log | tail -1 | cut -c1-60)"
[ -e cluster.csv ] && { echo "FAIL: the killed client left an output"; exit 1; }

echo "== the same command again"
/usr/bin/time -f "second client wall %e s" "$tool" predict --model "$model" --input "$images" --output cluster.csv --cluster "$cluster" 2>&1 | tee client2.log

echo "== checks"
rows=$(($(wc -l < cluster.csv) - 1)); unique=$(tail -n +2 cluster.csv | cut -d, -f1 | sort -u | wc -l)
listed=$(find "$images" -type f \( -iname '*.png' -o -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.bmp' -o -iname '*.gif' -o -iname '*.webp' \) | wc -l)
echo "images listed: $listed; rows: $rows; distinct paths: $unique"
cmp <(cut -d, -f1,2 local.csv) <(cut -d, -f1,2 cluster.csv) && echo "paths and labels: identical to local predict, row for row"
cmp local.csv cluster.csv && echo "whole files: byte-identical (scores too)" || echo "whole files differ (scores only)"
grep -h "expired" silo1.log silo2.log | head -3
