"""The Whoosh index format of a tenant's gigs: schema, field types, and a gig's field values.

``FORMAT_VERSION`` names the on-disk format; it is part of every index
generation's directory name (``t<tenant>-v<N>-<hex>``), so a deployment that
changes the format recognises an index of the previous format without
opening it (it is rebuilt from the database; searches are answered by the
PostgreSQL backend meanwhile).

Format 4 (this one) adds what location search and the discovery filters read
(docs/design/discovery.md): columns ``seller_id`` (q), ``mode`` (i: 0 online, 1 on
site), ``lat`` / ``lng`` (d: the very doubles PostgreSQL holds, so both backends
compute the same distance), ``radius`` (i: km), ``country`` (i: the seller's
country, two letters packed ``ord(a) * 256 + ord(b)``, 0 for none) and a KEYWORD
field ``lang`` (the seller's language codes: each language's postings are its
documents). Everything else is format 3.

Format 3 adds the seller's level as a column (``level``: the rank in
``backend.LEVEL_RANK``) for the "seller level" filter; everything else is format 2.

Format 2, against format 1 (no version in the directory name):

- ``description`` and ``words`` keep term frequencies but no positions
  (nobody phrase-searches a description; a quoted phrase still matches its
  words there, see ``whoosh_backend``). ``title``, ``tags`` and ``seller`` keep
  positions, so quotes work on them.
- Price, delivery time, rating, rating count, category, top category,
  publication time and the gig id are plain per-document columns
  (``fields.COLUMN``): filters, facets and sorting read them directly, so they
  are no longer indexed as 8-16 numeric "trie" terms each (64 of the 206 terms
  a gig had).
- Index-time analysis runs through ``FastText`` / ``FastNgramWords``: field
  types whose ``index()`` produces exactly what Whoosh's analyzer chain
  produces (same terms, frequencies, weights and encoded positions; proven by
  ``tests/search/test_index_format.py``), in one tight loop instead of a chain
  of generators with a ``Token`` object per word (the loops live in
  ``whoosh_internals``: they reproduce the analyzers' internals). Queries are
  analysed by the standard analyzers of the same fields.

These classes are pickled by reference into each index's table of contents:
renaming or moving them makes existing indexes unreadable, which is what
``FORMAT_VERSION`` is for.
"""

from __future__ import annotations

from datetime import UTC, datetime

from whoosh import columns, fields
from whoosh.analysis import StandardAnalyzer, StemmingAnalyzer
from whoosh.formats import Frequency, Positions

from app.search import whoosh_internals
from app.search.backend import LEVEL_RANK, MODE_RANK, GigDocument

FORMAT_VERSION = 4
NGRAM_MIN, NGRAM_MAX = 2, 15

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class FastText(fields.TEXT):
    """``fields.TEXT`` with the standard (``stem=False``) or stemming analyzer and a fast ``index()``.

    Query-time analysis is the field's ordinary analyzer; index time yields the
    same ``(term bytes, frequency, weight, encoded value)`` items as
    ``fields.TEXT.index`` would, for the ``Positions`` or ``Frequency`` format.
    """

    def __init__(self, *, stem: bool, phrase: bool = True, field_boost: float = 1.0, stored: bool = False):
        super().__init__(
            analyzer=StemmingAnalyzer() if stem else StandardAnalyzer(),
            phrase=phrase,
            field_boost=field_boost,
            stored=stored,
        )
        self.fast_stem = stem

    def index(self, value, **kwargs):
        if not isinstance(value, str) or kwargs:
            yield from super().index(value, **kwargs)
            return
        if isinstance(self.format, Positions | Frequency):
            positions = isinstance(self.format, Positions)
            yield from whoosh_internals.text_postings(
                value, self.format, stem=self.fast_stem, positions=positions
            )
        else:  # pragma: no cover - only the two formats above are configured
            yield from super().index(value, **kwargs)


class FastNgramWords(fields.NGRAMWORDS):
    """``fields.NGRAMWORDS`` (edge n-grams from the start of each word) with a fast ``index()``."""

    def __init__(self, minsize: int, maxsize: int):
        super().__init__(minsize=minsize, maxsize=maxsize, at="start")
        self.fast_min, self.fast_max = minsize, maxsize

    def index(self, value, **kwargs):
        if not isinstance(value, str) or kwargs:
            yield from super().index(value, **kwargs)
            return
        yield from whoosh_internals.ngram_postings(value, self.format, self.fast_min, self.fast_max)


# Per-document numeric columns: (field name, struct typecode).
COLUMNS = (
    ("gid", "q"),  # the gig id
    ("category_id", "q"),
    ("top_category_id", "q"),
    ("price", "q"),  # minor units
    ("delivery_days", "i"),
    ("rating", "i"),  # hundredths: 4.75 -> 475
    ("rating_count", "i"),
    ("published", "q"),  # microseconds since the epoch
    ("level", "i"),  # the seller's level: backend.LEVEL_RANK (format 3)
    ("seller_id", "q"),  # format 4 from here
    ("mode", "i"),  # backend.MODE_RANK: 0 online, 1 on site
    ("lat", "d"),  # degrees (0.0 for an online gig)
    ("lng", "d"),
    ("radius", "i"),  # the service radius in km (0 for an online gig)
    ("country", "i"),  # the seller's country: pack_country
)
TEXT_FIELDS = ("title", "description", "tags", "seller")


def make_schema() -> fields.Schema:
    schema = fields.Schema(
        id=fields.ID(stored=True, unique=True),
        title=FastText(stem=True, field_boost=3.0, stored=True),
        description=FastText(stem=True, phrase=False),
        # Tags are searched with stemming ("logos" finds "logo") and kept whole in
        # ``tag`` for completions.
        tags=FastText(stem=True, field_boost=2.0),
        tag=fields.KEYWORD(commas=True, lowercase=True),
        seller=FastText(stem=False, field_boost=1.5),
        # Every searchable word unstemmed: the vocabulary of "did you mean".
        words=FastText(stem=False, phrase=False),
        # Edge n-grams of title and tag words: completions.
        ngrams=FastNgramWords(NGRAM_MIN, NGRAM_MAX),
        # The seller's languages (ISO 639-1 codes): filter and facet from the postings.
        lang=fields.KEYWORD(lowercase=True),
    )
    for name, typecode in COLUMNS:
        schema.add(name, fields.COLUMN(columns.NumericColumn(typecode)))
    return schema


def to_micros(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def pack_country(code: str | None) -> int:
    """ "DE" -> ord("D") * 256 + ord("E"); 0 for none (the column's default)."""
    if not code or len(code) != 2:
        return 0
    code = code.upper()
    return ord(code[0]) * 256 + ord(code[1])


def unpack_country(value: int) -> str:
    return chr(value >> 8) + chr(value & 0xFF)


def document_fields(doc: GigDocument) -> dict:
    """The field values ``writer.add_document`` takes for one gig."""
    tags = ", ".join(doc.tags)
    on_site = (
        doc.delivery_mode == "on_site"
        and doc.latitude is not None
        and doc.longitude is not None
        and doc.radius_km is not None
    )
    return {
        "id": str(doc.id),
        "title": doc.title,
        "description": doc.description,
        "tags": tags,
        "tag": tags,
        "seller": doc.seller,
        "words": " ".join((doc.title, tags, doc.seller, doc.description)),
        "ngrams": f"{doc.title} {' '.join(doc.tags)}",
        "gid": doc.id,
        "category_id": doc.category_id or 0,
        "top_category_id": doc.top_category_id or 0,
        "price": doc.min_price_minor,
        "delivery_days": doc.min_delivery_days,
        "rating": round(doc.rating * 100),
        "rating_count": doc.rating_count,
        "published": to_micros(doc.published_at),
        "level": LEVEL_RANK.get(doc.seller_level, 0),
        "seller_id": doc.seller_id,
        "mode": MODE_RANK["on_site"] if on_site else MODE_RANK["online"],
        "lat": float(doc.latitude) if on_site else 0.0,
        "lng": float(doc.longitude) if on_site else 0.0,
        "radius": int(doc.radius_km) if on_site else 0,
        "country": pack_country(doc.country),
        "lang": " ".join(doc.languages),
    }


__all__ = [
    "COLUMNS",
    "FORMAT_VERSION",
    "NGRAM_MAX",
    "NGRAM_MIN",
    "TEXT_FIELDS",
    "FastNgramWords",
    "FastText",
    "document_fields",
    "make_schema",
    "pack_country",
    "unpack_country",
]
