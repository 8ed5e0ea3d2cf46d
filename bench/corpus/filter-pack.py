#!/usr/bin/env python3
"""Drops near-empty images from a packed corpus (efficientcnn pack's ECNNPACK v1 file) without decoding anything again.

Usage: filter-pack.py IN.pack OUT.pack [--max-flat 0.95]
An image is near-empty when one byte value covers more than --max-flat of its 3 x S x S bytes: a flat colour, or
(mostly) line art on a transparent background, which turns black once alpha is dropped as the project's decoder does
(black strokes on transparent become an all-black square). They cost training steps and teach nothing.
Writes OUT.pack atomically (temp file + rename), OUT.pack.dropped.txt (index, original path) and
OUT.pack.sources.csv (images kept per source package). Standard library only.
Format: src/EfficientCnn.Backbones/Training/PackedImagesFormat.cs.
"""
import argparse, os, struct, sys

HEADER = 64


def read_header(f, path):
    head = f.read(HEADER)
    if head[:8] != b"ECNNPACK":
        sys.exit(f"{path}: not a packed image file")
    version, count, size, channels = struct.unpack("<iiii", head[8:24])
    pixel_offset, index_offset, index_length = struct.unpack("<qqq", head[24:48])
    if version != 1 or channels != 3 or pixel_offset != HEADER or index_offset != HEADER + count * 3 * size * size:
        sys.exit(f"{path}: unsupported or corrupt header")
    if index_offset + index_length != os.path.getsize(path):
        sys.exit(f"{path}: truncated or corrupt (length does not match the header)")
    return count, size, index_offset, index_length


def read_index(f, index_offset, index_length, count):
    f.seek(index_offset)
    blob, paths, at = f.read(index_length), [], 0
    for _ in range(count):
        n = struct.unpack("<i", blob[at:at + 4])[0]
        paths.append(blob[at + 4:at + 4 + n])
        at += 4 + n
    return paths


def flat_fraction(pixels):
    # The most common byte among a few candidates (black, white, the first and middle pixel): C-speed counts.
    return max(pixels.count(v) for v in {0, 255, pixels[0], pixels[len(pixels) // 2]}) / len(pixels)


def source_package(path):
    """build-corpus.py stores images as .../images/<package>/...; other paths count under their folder."""
    parts = path.replace("\\", "/").split("/")
    return parts[parts.index("images") + 1] if "images" in parts[:-1] else os.path.dirname(path)


def add_packed_column(path, by_source, pack_name):
    """Appends the per-source count of the filtered pack to each row of the sources table (once)."""
    lines = open(path, encoding="utf-8").read().split("\n")
    header = f" in {pack_name} |"
    out = []
    for line in lines:
        cells = [c.strip() for c in line.strip("|").split("|")] if line.startswith("|") else None
        if cells is None or header in line:
            out.append(line)
        elif cells[0] == "source package":
            out.append(line + header)
        elif set(cells[0]) <= set("-:"):
            out.append(line + "---:|")
        elif cells[0] == "**total**":
            out.append(line + f" **{sum(by_source.values())}** |")
        else:
            out.append(line + f" {by_source.get(cells[0], 0)} |")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--max-flat", type=float, default=0.95)
    parser.add_argument("--sources-md", help="build-corpus.py's sources.md: add a column with the images kept per source")
    args = parser.parse_args()
    if os.path.abspath(args.input) == os.path.abspath(args.output):
        sys.exit("output must differ from input")
    with open(args.input, "rb") as f:
        count, size, index_offset, index_length = read_header(f, args.input)
        paths = read_index(f, index_offset, index_length, count)
        image_bytes = 3 * size * size
        tmp = args.output + ".tmp"
        kept, dropped = [], []
        with open(tmp, "wb") as out:
            out.write(bytes(HEADER))
            f.seek(HEADER)
            for i in range(count):
                pixels = f.read(image_bytes)
                if flat_fraction(pixels) > args.max_flat:
                    dropped.append(i)
                    continue
                out.write(pixels)
                kept.append(i)
            new_index_offset = out.tell()
            for i in kept:
                out.write(struct.pack("<i", len(paths[i])) + paths[i])
            new_index_length = out.tell() - new_index_offset
            out.seek(0)
            out.write(b"ECNNPACK" + struct.pack("<iiiiqqq", 1, len(kept), size, 3, HEADER, new_index_offset, new_index_length))
        os.replace(tmp, args.output)
    with open(args.output + ".dropped.txt", "w", encoding="utf-8") as d:
        for i in dropped:
            d.write(f"{i}\t{paths[i].decode('utf-8')}\n")
    by_source = {}
    for i in kept:
        source = source_package(paths[i].decode("utf-8"))
        by_source[source] = by_source.get(source, 0) + 1
    with open(args.output + ".sources.csv", "w", encoding="utf-8") as s:
        s.write("source_package,images\n")
        for source, n in sorted(by_source.items()):
            s.write(f"{source},{n}\n")
    if args.sources_md:
        add_packed_column(args.sources_md, by_source, os.path.basename(args.output))
    print(f"kept {len(kept)} of {count} images ({len(dropped)} near-empty dropped, list in {args.output}.dropped.txt); wrote {args.output}")


if __name__ == "__main__":
    main()
