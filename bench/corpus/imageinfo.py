"""Image size from the file header (PNG, JPEG, WebP, GIF, BMP), standard library only.

The corpus builder needs each candidate's width and height to drop tiny images (icons, sprites) before copying,
without decoding tens of thousands of files or depending on Pillow.
"""
import struct

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def image_size(path):
    """Returns (format, width, height), or None when the file is not a readable PNG/JPEG/WebP/GIF/BMP."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if head.startswith(PNG_MAGIC) and head[12:16] == b"IHDR":
                w, h = struct.unpack(">II", head[16:24])
                return "png", w, h
            if head[:2] == b"\xff\xd8":
                return _jpeg_size(f)
            if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
                return _webp_size(head)
            if head[:6] in (b"GIF87a", b"GIF89a"):
                w, h = struct.unpack("<HH", head[6:10])
                return "gif", w, h
            if head[:2] == b"BM" and len(head) >= 26:
                w, h = struct.unpack("<ii", head[18:26])
                return "bmp", abs(w), abs(h)
    except (OSError, struct.error):
        return None
    return None


def _jpeg_size(f):
    # Walk the marker segments to the first start-of-frame (SOF0..SOF15 but DHT/JPG/DAC), which holds the size.
    f.seek(2)
    while True:
        byte = f.read(1)
        while byte and byte != b"\xff":
            byte = f.read(1)
        while byte == b"\xff":
            byte = f.read(1)
        if not byte:
            return None
        marker = byte[0]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue  # markers without a length
        length_bytes = f.read(2)
        if len(length_bytes) < 2:
            return None
        length = struct.unpack(">H", length_bytes)[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            data = f.read(5)
            if len(data) < 5:
                return None
            h, w = struct.unpack(">HH", data[1:5])
            return "jpeg", w, h
        f.seek(length - 2, 1)


def _webp_size(head):
    chunk = head[12:16]
    if chunk == b"VP8 " and len(head) >= 30:
        w, h = struct.unpack("<HH", head[26:30])
        return "webp", w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L" and len(head) >= 25:
        b = head[21:25]
        w = 1 + (((b[1] & 0x3F) << 8) | b[0])
        h = 1 + (((b[3] & 0x0F) << 10) | (b[2] << 2) | ((b[1] & 0xC0) >> 6))
        return "webp", w, h
    if chunk == b"VP8X" and len(head) >= 30:
        w = 1 + int.from_bytes(head[24:27], "little")
        h = 1 + int.from_bytes(head[27:30], "little")
        return "webp", w, h
    return None
