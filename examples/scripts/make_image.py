"""Write data/shapes.png: a 64x64 picture of four coloured quadrants (for vision.yaml).

Not a task: run it once (`python examples/scripts/make_image.py`) to regenerate the image. Uses only
the standard library (zlib + struct), so no imaging package is needed.
"""

import os
import struct
import sys
import zlib

SIZE = 64
COLOURS = {(0, 0): (220, 40, 40), (1, 0): (40, 170, 60), (0, 1): (40, 80, 220), (1, 1): (240, 200, 30)}


def png(width: int, height: int, pixel) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    target = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "data", "shapes.png")
    data = png(SIZE, SIZE, lambda x, y: COLOURS[(x * 2 // SIZE, y * 2 // SIZE)])
    with open(target, "wb") as f:
        f.write(data)
    print(f"wrote {os.path.normpath(target)} ({len(data)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
