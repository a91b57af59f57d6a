"""Pictures from outside (an agency's logo, an imported item's images): what the bytes are,
and whether they are a whole picture of a sensible size, judged before a pixel is decoded.

The type is the file's signature, never its name.  The size the header declares is read
first (a decompression bomb, a small file declaring 20000 × 20000 pixels, is refused
unread; Pillow's own bomb check stays as a second guard); then the whole image is decoded,
so a truncated or damaged file is refused too.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from contextlib import contextmanager

SIGNATURES = {"PNG": (b"\x89PNG\r\n\x1a\n",), "JPEG": (b"\xff\xd8\xff",),
              "GIF": (b"GIF87a", b"GIF89a")}
MEDIA_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif"}
# JPEG start-of-frame markers (they carry the image's size): C0..CF but DHT, JPG, DAC.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


class PictureProblem(ValueError):
    """Why bytes are not an acceptable picture: ``code`` ``not_image`` (not one of the
    accepted formats, or damaged) or ``too_many_pixels`` (with ``width`` and ``height``)."""

    def __init__(self, code: str, width: int = 0, height: int = 0) -> None:
        super().__init__(code)
        self.code, self.width, self.height = code, width, height


def picture_format(data: bytes, formats: tuple[str, ...] = tuple(SIGNATURES)) -> str | None:
    """"PNG", "JPEG" or "GIF" by the file's signature (among ``formats``), or None."""
    return next((kind for kind in formats if data.startswith(SIGNATURES[kind])), None)


def declared_size(data: bytes, kind: str) -> tuple[int, int] | None:
    """The width and height an image's header declares, read without decoding anything
    (PNG: the IHDR chunk, GIF: the logical screen, JPEG: the largest start-of-frame before
    the scan), or None when the header cannot be read this way (Pillow then judges)."""
    if kind == "PNG":
        if len(data) < 24 or data[12:16] != b"IHDR":
            return None
        return struct.unpack(">II", data[16:24])
    if kind == "GIF":
        return struct.unpack("<HH", data[6:10]) if len(data) >= 10 else None
    sizes = []
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            at += 2
            continue
        (length,) = struct.unpack(">H", data[at + 2:at + 4])
        if marker in _JPEG_SOF and at + 9 <= len(data):
            height, width = struct.unpack(">HH", data[at + 5:at + 9])
            sizes.append((width, height))
        if marker == 0xDA:  # start of scan: the header is over
            break
        at += 2 + length
    if not sizes:
        return None
    return max(w for w, _h in sizes), max(h for _w, h in sizes)


@contextmanager
def opened_picture(data: bytes, *, max_side: int,
                   formats: tuple[str, ...] = tuple(SIGNATURES)) -> Iterator:
    """The picture as a loaded Pillow image, once its format and size are acceptable;
    PictureProblem otherwise (also for what goes wrong inside the ``with`` block)."""
    from PIL import Image, UnidentifiedImageError

    kind = picture_format(data, formats)
    if kind is None:
        raise PictureProblem("not_image")
    declared = declared_size(data, kind)
    if declared is not None and max(declared) > max_side:
        raise PictureProblem("too_many_pixels", *declared)
    try:
        with Image.open(io.BytesIO(data), formats=[kind]) as image:
            if max(image.size) > max_side:
                raise PictureProblem("too_many_pixels", *image.size)
            image.load()
            yield image
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PictureProblem("too_many_pixels", *(declared or (0, 0))) from None
    except PictureProblem:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError,
            struct.error) as exc:
        raise PictureProblem("not_image") from exc
