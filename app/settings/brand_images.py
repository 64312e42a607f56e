"""Validating and re-encoding a marketplace's logo and favicon with Pillow.

The upload is never stored as sent: it is decoded fully (non-images, truncated files
and decompression bombs are refused), turned upright per its EXIF orientation, copied
pixel by pixel (no EXIF, GPS, XMP, ICC or comments survive) and written as a PNG,
which every browser and email client shows (WebP is not shown by some mail clients,
and emails carry the logo).

- logo: fits in ``LOGO_BOX`` (never upscaled), transparency kept;
- favicon: centred on a transparent ``FAVICON_SIZE`` square (a wide mark is padded,
  not cropped).
"""

from __future__ import annotations

import io
import struct

from PIL import Image, ImageOps, UnidentifiedImageError
from werkzeug.datastructures import FileStorage

from app.core.domain_errors import DomainError

LOGO_BOX = (800, 240)
FAVICON_SIZE = 64
MIN_SIDE = 16
MAX_SIDE = 4096
ALLOWED_FORMATS = {"logo": {"PNG", "JPEG", "WEBP", "GIF"}, "favicon": {"PNG", "JPEG", "WEBP", "GIF", "ICO"}}


class BrandImageError(DomainError):
    """The upload cannot be a logo or favicon; ``str(err)`` is a message for the operator."""


def _human(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB" if n >= 1024 * 1024 else f"{n / 1024:g} KB"


def _read(upload, max_bytes: int) -> bytes:
    if isinstance(upload, FileStorage):
        raw = upload.stream.read(max_bytes + 1)  # one byte past the limit is enough to know
    elif isinstance(upload, bytes | bytearray | memoryview):
        raw = bytes(upload)
    else:
        raise BrandImageError("Choose an image to upload.")
    if not raw:
        raise BrandImageError("The file is empty.")
    if len(raw) > max_bytes:
        raise BrandImageError(f"The image is too large: the limit is {_human(max_bytes)}.")
    return raw


def process_brand_image(upload, kind: str, *, max_bytes: int = 2 * 1024 * 1024) -> bytes:
    """Validate an uploaded ``kind`` ("logo" or "favicon") image; returns PNG bytes.

    Raises BrandImageError for an empty or oversized upload, a non-image, a format other
    than PNG, JPEG, WebP or GIF (and ICO for a favicon; SVG is refused: it can carry
    scripts), a damaged file, or a side under 16 or over 4096 pixels.
    """
    allowed = ALLOWED_FORMATS[kind]
    raw = _read(upload, max_bytes)
    try:
        with Image.open(io.BytesIO(raw)) as img:
            if img.format not in allowed:
                names = ", ".join(sorted(allowed))
                raise BrandImageError(
                    f"{img.format or 'This'} images are not accepted; upload one of {names}."
                )
            width, height = img.size
            if width > MAX_SIDE or height > MAX_SIDE:
                raise BrandImageError(
                    f"The image is {width}×{height} pixels; at most {MAX_SIDE}×{MAX_SIDE} is accepted."
                )
            if width < MIN_SIDE or height < MIN_SIDE:
                raise BrandImageError(
                    f"The image is {width}×{height} pixels; at least {MIN_SIDE}×{MIN_SIDE} is needed."
                )
            if img.format == "ICO":
                img.size = max(img.info.get("sizes") or [img.size])  # the largest icon in the file
            img.load()
            clean = _pixels(img)
    except BrandImageError:
        raise
    except Image.DecompressionBombError:
        raise BrandImageError("The image has too many pixels.") from None
    except UnidentifiedImageError:
        raise BrandImageError("The file is not an image (PNG, JPEG, WebP or GIF).") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error) as exc:
        raise BrandImageError("The image is damaged or incomplete.") from exc

    if kind == "favicon":
        clean.thumbnail((FAVICON_SIZE, FAVICON_SIZE), Image.Resampling.LANCZOS)
        square = Image.new("RGBA", (FAVICON_SIZE, FAVICON_SIZE), (0, 0, 0, 0))
        square.paste(clean, ((FAVICON_SIZE - clean.width) // 2, (FAVICON_SIZE - clean.height) // 2))
        result = square
    else:
        clean.thumbnail(LOGO_BOX, Image.Resampling.LANCZOS)
        result = clean
    out = io.BytesIO()
    result.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _pixels(img: Image.Image) -> Image.Image:
    """An upright RGBA copy with only the pixels (no metadata)."""
    img = ImageOps.exif_transpose(img)
    clean = Image.new("RGBA", img.size)
    clean.paste(img.convert("RGBA"))
    return clean
