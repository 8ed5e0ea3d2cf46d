#!/usr/bin/env bash
# Rebuilds samples/data/clipart4 from the openclipart dataset (public domain, Debian package openclipart-png):
#   python3 ../shared/datasets/build.py openclipart /tmp/data/openclipart
#   bash samples/data/make-clipart4.sh /tmp/data/openclipart
# Takes 4 classes, the first 40 train and 15 test images of each (that ImageMagick converts) in split.csv order (build.py's deterministic split),
# shrinks them to fit 128x128 (PNG, alpha kept) so the repository stays small.
set -eu
src=${1:?usage: make-clipart4.sh OPENCLIPART_DIR}
out=$(dirname "$0")/clipart4
rm -rf "$out"; mkdir -p "$out"
echo "path,label,split" > "$out/split.csv"
for class in animals food people transportation; do
  mkdir -p "$out/$class"
  for split in train test; do
    n=$([ $split = train ] && echo 40 || echo 15)
    count=0
    while IFS=, read -r path label s; do
      [ "$count" -ge "$n" ] && break
      # Huge drawings exceed ImageMagick's default resource policy: skip them, take the next one.
      /usr/bin/convert "$src/$path" -resize '128x128>' "$out/$path" 2>/dev/null || continue
      echo "$path,$label,$split" >> "$out/split.csv"
      count=$((count + 1))
    done < <(tr -d "\r" < "$src/split.csv" | grep ",$class,$split\$")
  done
done
echo "$(($(wc -l < "$out/split.csv") - 1)) images in $out"
