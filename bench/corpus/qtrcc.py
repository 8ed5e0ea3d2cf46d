"""Reads Qt binary resource files (.rcc), standard library only.

GCompris ships its activity images inside .rcc bundles; this lists the files in one so the corpus builder can take its
PNG/JPEG photos and drawings. Format: Qt's rcc.cpp (header "qres", version, tree/data/names offsets; tree nodes of 14
bytes in version 1, 22 from version 2; zlib-compressed entries carry a 4-byte uncompressed size first).
"""
import struct
import zlib

DIRECTORY, COMPRESSED_ZLIB, COMPRESSED_ZSTD = 0x02, 0x01, 0x04


def rcc_files(path):
    """Yields (name inside the bundle, bytes) for every file in the .rcc; zstd entries are skipped (no stdlib codec)."""
    with open(path, "rb") as f:
        blob = f.read()
    if blob[:4] != b"qres":
        raise ValueError(f"{path}: not a Qt resource file (no 'qres' magic)")
    version, tree, data, names = struct.unpack(">IIII", blob[4:20])
    node_size = 14 if version == 1 else 22

    def name_at(offset):
        length = struct.unpack(">H", blob[names + offset:names + offset + 2])[0]
        start = names + offset + 6  # 2 bytes length, 4 bytes hash
        return blob[start:start + 2 * length].decode("utf-16-be")

    def walk(node, prefix):
        base = tree + node * node_size
        name_offset, flags = struct.unpack(">IH", blob[base:base + 6])
        name = name_at(name_offset) if node else ""
        full = f"{prefix}/{name}" if name else prefix
        if flags & DIRECTORY:
            count, first = struct.unpack(">II", blob[base + 6:base + 14])
            for child in range(first, first + count):
                yield from walk(child, full)
            return
        data_offset = struct.unpack(">I", blob[base + 10:base + 14])[0]
        size = struct.unpack(">I", blob[data + data_offset:data + data_offset + 4])[0]
        payload = blob[data + data_offset + 4:data + data_offset + 4 + size]
        if flags & COMPRESSED_ZSTD:
            return
        if flags & COMPRESSED_ZLIB:
            payload = zlib.decompress(payload[4:])
        yield full.lstrip("/"), payload

    yield from walk(0, "")
