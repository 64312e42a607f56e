"""Every use of Whoosh's internals, in one module, checked against the one release it was written for.

The Whoosh backend meets its targets (``docs/benchmarks.md``: search p95 under
30 ms at 50,000 gigs, an index build of hundreds of gigs per second, publish ->
search under 2 s) only by reaching under Whoosh's public API. Everything that
does is here, written against **Whoosh 2.7.4** (``WRITTEN_AGAINST``); the rest
of the backend (``whoosh_backend``, ``whoosh_schema``) uses the public API plus
this module. What is used, and why:

- **Writing** (index build, coalesced writes): ``GigWriter`` subclasses
  ``whoosh.writing.SegmentWriter`` and replaces its ``pool`` (built from
  ``_tempstorage``) with ``GroupingPool``, which groups postings per term as
  they arrive instead of sorting every posting at commit; ``add_gig`` is
  ``add_document`` in one loop (``_check_state``, ``perdocwriter``, ``docnum``,
  ``_added``); ``per_document_reader`` answers the per-posting length lookups
  of ``SegmentWriter._flush_segment`` from memory (``CachedLengths``).
  ``merge_small`` is a ``mergetype`` (``SegmentReader`` over a segment,
  ``writer.add_reader``, ``Segment.doc_count_all``).
- **Reading** (the fast keyword path): ``read_postings`` decodes the blocks of
  ``whoosh.codec.whoosh3.W3LeafMatcher`` (``_data``, ``_read_data``,
  ``_next_block``, ``_atend``, ``_byteids``, ``_blocklength``) into arrays;
  ``numeric_column`` reads a ``NumericColumn`` whole (``_dbfile``,
  ``_basepos``, ``_fixedlen``, ``_count``, ``_typecode``, ``_default``);
  ``field_lengths`` reads the hidden ``_<field>_len`` length column of
  ``reader._perdoc`` (``LENGTHS_COLUMN``, ``byte_to_length``).
- **Segments**: ``segments(ix)`` (``ix._segments()``), ``segment_id`` and
  ``deleted_docs`` of a leaf reader's ``Segment``.
- **Scoring**: ``bm25_parameters`` and ``term_score`` read a ``BM25F`` scorer's
  ``idf``, ``avgfl``, ``B``, ``K1`` and call its ``_score``, so the fast path
  ranks exactly as ``Searcher.search`` does.
- **Analysis** (index build): ``text_postings`` / ``ngram_postings`` yield what
  ``fields.TEXT.index`` / ``fields.NGRAMWORDS.index`` yield with the standard
  and stemming analyzers (``RegexTokenizer``'s default expression,
  ``LowercaseFilter``, ``StopFilter``'s defaults and renumbering, the Porter
  stemmer; ``pack_uint`` is the ``Frequency`` format's encoding), in one loop
  instead of a generator chain with a ``Token`` per word.

``tests/search/test_index_format.py`` compares each of these with stock
Whoosh's own output. Another Whoosh release may rename, move or change any of
them, so importing this module on any other version raises
``UnsupportedWhoosh`` before touching one: ``get_backend()`` then logs a
warning and searches with the PostgreSQL backend. Moving to another release
means checking each internal listed above, running those tests, then changing
``WRITTEN_AGAINST`` and the pin in requirements.txt together.
"""

from __future__ import annotations

import contextlib
import heapq
import marshal
import re
import secrets
import sys
from array import array
from collections.abc import Iterator
from itertools import accumulate

from app.search.backend import UnsupportedWhoosh

WRITTEN_AGAINST = "2.7.4"

try:
    import whoosh
except ImportError:  # pragma: no cover - Whoosh is in requirements.txt
    whoosh = None


def installed_version() -> str | None:
    """The installed Whoosh's version string (``whoosh.versionstring()``), None when it is missing."""
    return whoosh.versionstring() if whoosh is not None else None


def check_version() -> None:
    """Raise ``UnsupportedWhoosh`` unless the installed Whoosh is exactly ``WRITTEN_AGAINST``."""
    found = installed_version()
    if found != WRITTEN_AGAINST:
        raise UnsupportedWhoosh(found, WRITTEN_AGAINST)


# Before importing a single internal: on another release they may be missing or mean something else.
check_version()

from whoosh import columns  # noqa: E402
from whoosh.analysis import STOP_WORDS  # noqa: E402
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher  # noqa: E402
from whoosh.lang.porter import stem as porter_stem  # noqa: E402
from whoosh.reading import SegmentReader, TermNotFound  # noqa: E402
from whoosh.system import pack_uint  # noqa: E402
from whoosh.util.numeric import byte_to_length  # noqa: E402
from whoosh.writing import SegmentWriter  # noqa: E402

_LITTLE_ENDIAN = sys.byteorder == "little"
# Field length of each length byte (Whoosh stores lengths in one lossy byte).
LENGTH_OF_BYTE = [1] + [byte_to_length(b) for b in range(1, 256)]


# --------------------------------------------------------------------------- analysis

# RegexTokenizer's default expression, the tokenizer of every analyzer used here.
_TOKEN = re.compile(r"\w+(\.?\w+)*", re.UNICODE)
_STOP_MINSIZE = 2  # StopFilter's default: shorter tokens are dropped as well
_STEM_CACHE: dict[str, str] = {}
_STEM_CACHE_MAX = 100_000


def _stem(word: str) -> str:
    stemmed = _STEM_CACHE.get(word)
    if stemmed is None:
        stemmed = porter_stem(word)
        if len(_STEM_CACHE) >= _STEM_CACHE_MAX:
            _STEM_CACHE.clear()
        _STEM_CACHE[word] = stemmed
    return stemmed


def analysed_words(text: str, stem: bool) -> list[tuple[int, str]]:
    """(position, term) as StandardAnalyzer (``stem=False``) or StemmingAnalyzer emit them.

    Positions as StopFilter renumbers them: the first kept token keeps its
    place among all tokens, every later kept token follows it by one.
    """
    out = []
    stop = STOP_WORDS
    pos = -1
    for index, match in enumerate(_TOKEN.finditer(text)):
        word = match.group(0).lower()
        if len(word) < _STOP_MINSIZE or word in stop:
            continue
        pos = index if pos < 0 else pos + 1
        out.append((pos, _stem(word) if stem else word))
    return out


def text_postings(text: str, format_, *, stem: bool, positions: bool) -> Iterator[tuple]:
    """``(term bytes, frequency, weight, encoded value)`` of ``text``, as ``fields.TEXT.index``
    yields them for a ``Positions`` (``positions=True``) or ``Frequency`` format."""
    words = analysed_words(text, stem)
    boost = format_.field_boost
    if positions:
        poslists: dict[str, list[int]] = {}
        for pos, word in words:
            poslists.setdefault(word, []).append(pos)
        encode = format_.encode
        for word, poslist in poslists.items():
            yield word.encode("utf-8"), len(poslist), float(len(poslist)) * boost, encode(poslist)
    else:
        counts: dict[str, int] = {}
        for _pos, word in words:
            counts[word] = counts.get(word, 0) + 1
        for word, freq in counts.items():
            yield word.encode("utf-8"), freq, float(freq) * boost, pack_uint(freq)


def ngram_postings(text: str, format_, minsize: int, maxsize: int) -> Iterator[tuple]:
    """What ``fields.NGRAMWORDS(minsize, maxsize, at="start").index`` yields for ``text``."""
    counts: dict[str, int] = {}
    for match in _TOKEN.finditer(text):
        word = match.group(0).lower()
        for size in range(minsize, min(maxsize, len(word)) + 1):
            gram = word[:size]
            counts[gram] = counts.get(gram, 0) + 1
    boost = format_.field_boost
    for gram, freq in counts.items():
        yield gram.encode("utf-8"), freq, float(freq) * boost, pack_uint(freq)


# --------------------------------------------------------------------------- columns and lengths


def numeric_column(reader, name: str, doccount: int, typecode: str) -> array:
    """A segment's whole numeric column as an array (one read instead of one per document)."""
    return _load_numeric(reader.column_reader(name, translate=False), doccount, typecode)


def _load_numeric(creader, doccount: int, typecode: str) -> array:
    out = array(typecode)
    if isinstance(creader, columns.NumericColumn.Reader) and creader._typecode == typecode:
        count = min(creader._count, doccount)
        if count:
            out.frombytes(creader._dbfile.get(creader._basepos, count * creader._fixedlen))
            if _LITTLE_ENDIAN:
                out.byteswap()  # stored big-endian
        if count < doccount:
            out.extend([creader._default] * (doccount - count))
        return out
    out.extend(creader[i] for i in range(doccount))
    return out


def _length_bytes(perdoc, fieldname: str, doccount: int) -> array | None:
    lenfield = f"_{fieldname}_len"
    if not perdoc.has_column(lenfield):
        return None  # a field without lengths (ids, tags, columns)
    return _load_numeric(perdoc.column_reader(lenfield, LENGTHS_COLUMN), doccount, "B")


def field_lengths(reader, fieldname: str, doccount: int) -> array | None:
    """A segment reader's length bytes of ``fieldname`` per document (``LENGTH_OF_BYTE`` turns a
    byte into the length Whoosh scores with), or None when the field keeps no lengths."""
    return _length_bytes(reader._perdoc, fieldname, doccount)


# --------------------------------------------------------------------------- postings


def read_postings(reader, fieldname: str, text: str) -> tuple[array, array]:
    """(document numbers, weights) of one term in one segment, deleted documents included."""
    ids, weights = array("i"), array("f")
    try:
        matcher = reader.postings(fieldname, text)
    except TermNotFound:
        return ids, weights
    if type(matcher) is W3LeafMatcher and not matcher._byteids:
        # Block by block, as W3LeafMatcher._read_ids / _read_weights decode a block, with the
        # running sum of the id deltas in C (itertools.accumulate) rather than a generator.
        while not matcher._atend:
            if matcher._data is None:
                matcher._read_data()
            block_ids, block_weights = matcher._data[0], matcher._data[1]
            ids.extend(accumulate(block_ids))
            if block_weights is None:
                weights.extend([1.0] * matcher._blocklength)
            elif isinstance(block_weights, float):
                weights.extend([block_weights] * matcher._blocklength)
            else:
                weights.extend(block_weights)
            matcher._next_block()
    else:
        while matcher.is_active():
            ids.append(matcher.id())
            weights.append(matcher.weight())
            matcher.next()
    return ids, weights


# --------------------------------------------------------------------------- segments


def segments(ix) -> list:
    """The index's current segments (from its table of contents)."""
    return ix._segments()


def document_counts(ix) -> tuple[int, int]:
    """(documents, deleted documents) held by the index's segments."""
    segs = segments(ix)
    return sum(seg.doc_count_all() for seg in segs), sum(seg.deleted_count() for seg in segs)


def segment_id(leaf_reader) -> str:
    """The id of a leaf reader's segment: stable for the segment's life, unique in the index."""
    return leaf_reader.segment().segment_id()


def deleted_docs(leaf_reader) -> Iterator[int]:
    """The deleted documents of a leaf reader's segment (segment-local numbers)."""
    return leaf_reader.segment().deleted_docs()


def merge_small(writer, segs):
    """Merge policy (a ``mergetype``): every segment but the biggest, unless the others add up to a
    tenth of it."""
    if len(segs) < 2:
        return segs
    ordered = sorted(segs, key=lambda seg: seg.doc_count_all())
    biggest, rest = ordered[-1], ordered[:-1]
    keep = [biggest]
    if sum(seg.doc_count_all() for seg in rest) * 10 >= biggest.doc_count_all():
        rest, keep = ordered, []
    for seg in rest:
        reader = SegmentReader(writer.storage, writer.schema, seg)
        writer.add_reader(reader)
        reader.close()
    return keep


# --------------------------------------------------------------------------- scoring


def bm25_parameters(scorer) -> tuple[float, float, float, float]:
    """(idf, average field length, B, K1) of a ``BM25F`` term scorer."""
    return scorer.idf, scorer.avgfl, scorer.B, scorer.K1


def term_score(scorer, weight: float, length: float) -> float:
    """The scorer's score of one posting (its weight, and the field length of its document)."""
    return scorer._score(weight, length)


# --------------------------------------------------------------------------- the writer


class CachedLengths:
    """What ``SegmentWriter._flush_segment`` asks of the per-document reader, from memory.

    Whoosh's own reader reads one byte from disk per posting (and for a field
    without lengths, such as ids and tags, looks for the column file: a
    ``stat`` per posting). Here each field's length column is read once.
    """

    def __init__(self, perdoc):
        self._perdoc = perdoc
        self._doccount = perdoc.doc_count_all()
        self._lengths: dict[str, array | None] = {}

    def doc_field_length(self, docnum, fieldname, default=0):
        try:
            lengths = self._lengths[fieldname]
        except KeyError:
            lengths = self._lengths[fieldname] = _length_bytes(self._perdoc, fieldname, self._doccount)
        if lengths is None:
            return default
        lbyte = lengths[docnum]
        return byte_to_length(lbyte) if lbyte else None  # None: what Whoosh answers for an empty field

    def close(self):
        self._perdoc.close()


# Estimated memory of one pooled posting (tuple, float, value bytes), less its term and value bytes.
_POSTING_OVERHEAD = 130


class GroupingPool:
    """The posting pool of our writers: postings grouped per (field, term) as they arrive.

    Whoosh's ``PostingPool`` keeps one tuple per posting and sorts them all at
    commit (spilling to temporary runs written and merged posting by posting).
    Our writers add documents in ascending document number order (new
    documents, then merged segments after them), so each group is already in
    order: the commit sorts the terms only, and a full pool spills one record
    per term to a run (``marshal``), merged term by term. ``iter_postings``
    yields what ``PostingPool`` would: ``(field, term, docnum, weight, value)``
    sorted by field, term and document.
    """

    def __init__(self, tempstore, limitmb: int):
        self.tempstore = tempstore
        self.limit = limitmb * 1024 * 1024
        self.currentsize = 0
        self.fieldnames: set[str] = set()
        self.groups: dict[tuple[str, bytes], list] = {}
        self.runs: list[str] = []

    def add(self, item) -> None:
        fieldname, tbytes, docnum, weight, vbytes = item
        self.fieldnames.add(fieldname)
        group = self.groups.get((fieldname, tbytes))
        if group is None:
            self.groups[(fieldname, tbytes)] = [(docnum, weight, vbytes)]
        else:
            group.append((docnum, weight, vbytes))
        self.currentsize += _POSTING_OVERHEAD + 2 * len(tbytes) + (len(vbytes) if vbytes else 0)
        if self.currentsize > self.limit:
            self.save()

    def save(self) -> None:
        if not self.groups:
            return
        name = f"{secrets.token_hex(8)}.run"
        with self.tempstore.create_file(name).raw_file() as run:
            groups = self.groups
            for key in sorted(groups):
                marshal.dump((key, groups[key]), run)
        self.runs.append(name)
        self.groups, self.currentsize = {}, 0

    def _read_run(self, name: str):
        with self.tempstore.open_file(name).raw_file() as run:
            while True:
                try:
                    yield marshal.load(run)  # noqa: S302  (a run this writer wrote moments ago)
                except EOFError:
                    return

    def iter_postings(self):
        groups = self.groups
        sources = [self._read_run(name) for name in self.runs]
        sources.append((key, groups[key]) for key in sorted(groups))
        # Equal terms come from older runs first: their documents come first.
        merged = heapq.merge(*sources, key=lambda record: record[0]) if len(sources) > 1 else sources[0]
        for (fieldname, tbytes), postings in merged:
            for docnum, weight, vbytes in postings:
                yield fieldname, tbytes, docnum, weight, vbytes

    def cleanup(self) -> None:
        for name in self.runs:
            with contextlib.suppress(OSError):
                self.tempstore.delete_file(name)
        self.runs = []


class GigWriter(SegmentWriter):
    """``SegmentWriter`` with the grouping pool, lengths from memory, and ``add_gig``."""

    def __init__(self, ix, **kwargs):
        super().__init__(ix, **kwargs)
        self.pool = GroupingPool(self._tempstorage, kwargs.get("limitmb", 128))

    def per_document_reader(self):
        return CachedLengths(SegmentWriter.per_document_reader(self))

    def add_gig(self, values: dict) -> None:
        """``add_document(**values)`` for the gig schema's fields, in one tight loop.

        The same postings, stored fields, lengths and columns as ``add_document``
        (no boosts, vectors or spelling fields exist here to honour), appended to
        the posting pool in bulk instead of one ``pool.add`` call per posting.
        """
        self._check_state()
        plan = self.__dict__.get("_plan")
        if plan is not None and len(plan) != len(values):
            self.add_document(**values)  # not the gig schema's values: the general path
            return
        if plan is None:
            schema = self.schema
            plan = self._plan = [
                (name, schema[name], schema[name].indexed, schema[name].scorable, schema[name].stored)
                for name in sorted(values)
            ]
            self.pool.fieldnames.update(name for name, _f, indexed, _s, _st in plan if indexed)
        perdocwriter, pool, docnum = self.perdocwriter, self.pool, self.docnum
        groups = pool.groups
        size = postings = 0
        perdocwriter.start_doc(docnum)
        for name, field, indexed, scorable, stored in plan:
            value = values[name]
            length = 0
            if indexed:
                for tbytes, freq, weight, vbytes in field.index(value):
                    length += freq
                    group = groups.get((name, tbytes))
                    if group is None:
                        groups[(name, tbytes)] = [(docnum, weight, vbytes)]
                    else:
                        group.append((docnum, weight, vbytes))
                    size += 2 * len(tbytes) + (len(vbytes) if vbytes else 0)
                    postings += 1
            perdocwriter.add_field(name, field, value if stored else None, length if scorable else 0)
            column = field.column_type
            if column is not None:
                perdocwriter.add_column_value(name, column, field.to_column_value(value))
        perdocwriter.finish_doc()
        pool.currentsize += size + postings * _POSTING_OVERHEAD
        if pool.currentsize > pool.limit:
            pool.save()
        self._added = True
        self.docnum += 1


__all__ = [
    "LENGTH_OF_BYTE",
    "WRITTEN_AGAINST",
    "CachedLengths",
    "GigWriter",
    "GroupingPool",
    "analysed_words",
    "bm25_parameters",
    "check_version",
    "deleted_docs",
    "document_counts",
    "field_lengths",
    "installed_version",
    "merge_small",
    "ngram_postings",
    "numeric_column",
    "read_postings",
    "segment_id",
    "segments",
    "term_score",
]
