"""Whoosh backend: one on-disk index per tenant. With ``whoosh_schema`` and ``whoosh_internals``, the only
modules importing whoosh; this one uses Whoosh's public API only, and its internals through
``whoosh_internals`` (which refuses any Whoosh but the release it was written against).

Layout: ``<SEARCH_INDEX_DIR>/t<tenant_id>`` is a symlink to a generation
directory ``t<tenant_id>-v<format>-<hex>``; ``rebuild`` fills a fresh
generation and swaps the link atomically (``os.replace``), so searches never
see a half-built index. A generation of another format (or an older one
without a version in its name) is never opened: the backend raises
``IndexUnavailable`` and the services answer from PostgreSQL while a rebuild
is queued. Writes must be serialised per tenant by the caller
(``app.search.services`` holds the Redis lock ``t:<tenant_id>:search:writer``);
Whoosh's own file lock is then always free, and a short ``timeout`` on it is
only a backstop.

Reading. Indexes are opened without mmap (``FileStorage(supports_mmap=False)``):
Whoosh 2.7 copies every file of an mmap-ed compound segment into a ``BytesIO``
when a reader opens it, which cost ~190 ms and ~180 MB per reader of a
50,000-gig index; plain file reads cost nothing to open. Each thread keeps one
``_Snapshot`` per tenant: an open searcher plus, per segment, the document
columns (price, delivery, rating, category, publication time, gig id) as
arrays and the postings of the terms queries have used (``_SegmentData``,
shared by the threads of the process). Segments never change once written
(deletions live in the table of contents and are applied per snapshot), so
this data is cached per (generation directory, segment id) until evicted, and
survives commits: a new snapshot after a write re-reads only new segments.
Cache keys carry the tenant's generation directory; a snapshot only ever
touches its own tenant's segments.

Searching. Plain keyword queries (what buyers type: words, AND-ed, each
looked up in title / description / tags / seller) are evaluated here from the
cached postings: candidate sets are intersected in C, filters and category
facets read the column arrays, and only the surviving documents are scored,
with Whoosh's own BM25F scorer objects (same scores as ``Searcher.search``).
Anything else the parser accepts (quoted phrases, OR, NOT, parentheses) goes
through Whoosh's matchers for the candidates and its collector for the scores;
filters, facets and sorting are the same column code for both.

Writing. One writer session per batch of gigs (``write``): one reader finds
the documents to replace, one commit **without merging** (a commit that merges
re-reads and rewrites the small segments every time); ``write`` returns the
segment count so the caller can schedule ``merge`` (small segments only) in
the background once they pile up.

Package: ``Whoosh==2.7.4``, the original and by far the most widely used
release (the forks are archived or obscure). Pinned in requirements.txt and
checked by ``whoosh_internals`` when imported.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import operator
import os
import re
import secrets
import shutil
import threading
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from itertools import islice
from pathlib import Path

from flask import current_app
from whoosh import qparser
from whoosh.filedb.filestore import FileStorage
from whoosh.query import And, NullQuery, Or, Phrase, Term
from whoosh.scoring import BM25F

from app.core import geo
from app.search import whoosh_internals as internals  # raises UnsupportedWhoosh on another Whoosh
from app.search.backend import (
    DELIVERY_PRESETS,
    LEVEL_RANK,
    MODE_RANK,
    SELLER_LEVEL_FILTERS,
    GigDocument,
    IndexUnavailable,
    SearchBackend,
    SearchQuery,
    SearchResult,
    bayesian_rating,
    effective_within,
    rating_mean,
    remove_whoosh_index,
    whoosh_index_link,
    whoosh_index_root,
)
from app.search.whoosh_schema import (
    COLUMNS,
    FORMAT_VERSION,
    NGRAM_MAX,
    NGRAM_MIN,
    TEXT_FIELDS,
    document_fields,
    make_schema,
    pack_country,
    unpack_country,
)

log = logging.getLogger(__name__)

REBUILD_LIMITMB = 256
WRITER_TIMEOUT = 10.0  # Whoosh's file lock: a backstop behind the Redis writer lock
# Snapshots kept open per thread (one per tenant, most recently used first).
SNAPSHOT_CACHE_SIZE = 32
# Process-wide caches of immutable segment data (see the module docstring).
SEGMENT_CACHE_DOCS = 2_000_000  # documents whose columns are kept
POSTINGS_CACHE_SIZE = 4_000_000  # postings (8 bytes each) kept
# "Did you mean" only when the query found fewer hits than this.
CORRECT_BELOW = 5
CORRECTIONS_PER_SNAPSHOT = 10_000  # remembered corrections (a snapshot lives until the next write)
PARSE_CACHE_SIZE = 2048
WORD_RE = re.compile(r"\w+", re.UNICODE)
# The buyer's text may use quotes, parentheses, AND / OR / NOT; everything that
# could reach other fields or expand to many terms (field:, wildcards, ranges,
# boosts, *:*) is switched off, so any string parses to a bounded query.
_DISABLED_PLUGINS = (
    qparser.FieldsPlugin,
    qparser.WildcardPlugin,
    qparser.BoostPlugin,
    qparser.RangePlugin,
    qparser.EveryPlugin,
)
_GENERATION_RE = re.compile(r"^t(\d+)-v(\d+)-[0-9a-f]+$")
_LENGTH_OF_BYTE = internals.LENGTH_OF_BYTE
ON_SITE = MODE_RANK["on_site"]


# --------------------------------------------------------------------------- storage


def _storage(path: str | Path) -> FileStorage:
    return FileStorage(str(path), supports_mmap=False)


# --------------------------------------------------------------------------- segment data


class _SegmentData:
    """Immutable data of one segment: its columns, and postings / field lengths as they are needed."""

    def __init__(self, reader):
        self.doccount = reader.doc_count_all()
        self.columns: dict[str, array] = {}
        for name, typecode in COLUMNS:
            self.columns[name] = internals.numeric_column(reader, name, self.doccount, typecode)
        category, top = self.columns["category_id"], self.columns["top_category_id"]
        # The top-level category when it differs from the gig's own (facets count it once).
        self.columns["top_other"] = array(
            "q", (t if t != c else 0 for c, t in zip(category, top, strict=True))
        )
        self._lengths: dict[str, array | None] = {}

    def lengths(self, reader, fieldname: str) -> array | None:
        try:
            return self._lengths[fieldname]
        except KeyError:
            pass
        values = self._lengths[fieldname] = internals.field_lengths(reader, fieldname, self.doccount)
        return values


class _Caches:
    """Process-wide LRU caches of segment data and postings, keyed by (generation dir, segment id)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.segments: OrderedDict[tuple, _SegmentData] = OrderedDict()
        self.segment_docs = 0
        self.postings: OrderedDict[tuple, tuple[array, array]] = OrderedDict()
        self.posting_count = 0

    def segment(self, key: tuple, reader) -> _SegmentData:
        with self.lock:
            data = self.segments.get(key)
            if data is not None:
                self.segments.move_to_end(key)
                return data
        data = _SegmentData(reader)  # outside the lock: another thread may load it too, harmlessly
        with self.lock:
            if key not in self.segments:
                self.segments[key] = data
                self.segment_docs += data.doccount
                while self.segment_docs > SEGMENT_CACHE_DOCS and len(self.segments) > 1:
                    _, old = self.segments.popitem(last=False)
                    self.segment_docs -= old.doccount
            return self.segments[key]

    def postings_of(self, key: tuple, reader, fieldname: str, text: str) -> tuple[array, array]:
        full = (*key, fieldname, text)
        with self.lock:
            found = self.postings.get(full)
            if found is not None:
                self.postings.move_to_end(full)
                return found
        found = internals.read_postings(reader, fieldname, text)
        with self.lock:
            if full not in self.postings:
                self.postings[full] = found
                self.posting_count += len(found[0]) + 1
                while self.posting_count > POSTINGS_CACHE_SIZE and len(self.postings) > 1:
                    _, (old_ids, _w) = self.postings.popitem(last=False)
                    self.posting_count -= len(old_ids) + 1
        return found

    def forget(self, directory: str) -> None:
        """Drop everything cached for one generation directory (rebuilt or cleared)."""
        with self.lock:
            for key in [k for k in self.segments if k[0] == directory]:
                self.segment_docs -= self.segments.pop(key).doccount
            for key in [k for k in self.postings if k[0] == directory]:
                self.posting_count -= len(self.postings.pop(key)[0]) + 1


_caches = _Caches()


# --------------------------------------------------------------------------- one thread's view


class _Leaf:
    __slots__ = ("reader", "base", "key", "data")

    def __init__(self, reader, base, key, data):
        self.reader, self.base, self.key, self.data = reader, base, key, data


class _Snapshot:
    """One thread's open searcher on one generation of a tenant's index, with its columns."""

    def __init__(self, directory: str, ix):
        self.directory = directory
        self.ix = ix
        self.searcher = ix.searcher()
        reader = self.searcher.reader()
        self.generation = reader.generation()
        self.doccount = reader.doc_count_all()
        self.leaves: list[_Leaf] = []
        deleted: set[int] = set()
        if self.doccount:
            for leaf_reader, base in list(reader.leaf_readers()):
                key = (directory, internals.segment_id(leaf_reader))
                data = _caches.segment(key, leaf_reader)
                self.leaves.append(_Leaf(leaf_reader, base, key, data))
                if leaf_reader.has_deletions():
                    deleted.update(base + d for d in internals.deleted_docs(leaf_reader))
        self.deleted = frozenset(deleted)
        self.bases = [leaf.base for leaf in self.leaves]
        if len(self.leaves) == 1:
            self.columns = self.leaves[0].data.columns
        else:
            self.columns = {}
            for name in [*(n for n, _ in COLUMNS), "top_other"]:
                merged = array(self.leaves[0].data.columns[name].typecode) if self.leaves else array("q")
                for leaf in self.leaves:
                    merged.extend(leaf.data.columns[name])
                self.columns[name] = merged
        self._live: list[int] | None = None
        self._geo: tuple[array, array] | None = None
        self._languages: dict[str, frozenset[int]] | None = None
        self._rating_mean: tuple[float | None] | None = None
        self._scorers: dict[tuple[str, str], object] = {}
        self.corrections: dict[str, str | None] = {}

    def current(self) -> bool:
        return self.ix.latest_generation() == self.generation

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.searcher.close()

    def live_docs(self) -> list[int]:
        if self._live is None:
            deleted = self.deleted
            self._live = (
                [d for d in range(self.doccount) if d not in deleted]
                if deleted
                else list(range(self.doccount))
            )
        return self._live

    def geo(self) -> tuple[array, array]:
        """The live on-site documents sorted by latitude: (latitudes, documents), for the
        latitude band of a near search (a bisection instead of a scan)."""
        if self._geo is None:
            mode, lat = self.columns["mode"], self.columns["lat"]
            deleted = self.deleted
            on_site = sorted(
                (lat[d], d) for d in range(self.doccount) if mode[d] == ON_SITE and d not in deleted
            )
            self._geo = (array("d", (x for x, _ in on_site)), array("q", (d for _, d in on_site)))
        return self._geo

    def languages(self) -> dict[str, frozenset[int]]:
        """Language code -> the documents of sellers speaking it (``lang`` postings; deleted
        documents included: callers intersect with live ones)."""
        if self._languages is None:
            codes: set[str] = set()
            for leaf in self.leaves:
                for term in leaf.reader.lexicon("lang"):
                    codes.add(term.decode() if isinstance(term, bytes) else term)
            out = {}
            for code in sorted(codes):
                docs: set[int] = set()
                for leaf, ids, _weights in self.term("lang", code):
                    docs.update(ids if not leaf.base else (leaf.base + d for d in ids))
                out[code] = frozenset(docs)
            self._languages = out
        return self._languages

    def rating_mean(self) -> float | None:
        """The marketplace's mean rating over this snapshot's live gigs ("Top rated"; see
        ``backend.RATING_PRIOR_WEIGHT``), computed once per snapshot."""
        if self._rating_mean is None:
            rating, count = self.columns["rating"], self.columns["rating_count"]
            # Whole columns in C (map/sum), then the few deleted documents taken back out.
            total, reviews = sum(map(operator.mul, rating, count)), sum(count)
            for d in self.deleted:
                total -= rating[d] * count[d]
                reviews -= count[d]
            self._rating_mean = (rating_mean(total, reviews),)
        return self._rating_mean[0]

    # -- postings of the fast path

    def term(self, fieldname: str, text: str) -> list[tuple[_Leaf, array, array]]:
        return [(leaf, *_caches.postings_of(leaf.key, leaf.reader, fieldname, text)) for leaf in self.leaves]

    def scorer(self, fieldname: str, text: str):
        key = (fieldname, text)
        scorer = self._scorers.get(key)
        if scorer is None:
            scorer = self._scorers[key] = self.searcher.weighting.scorer(self.searcher, fieldname, text)
        return scorer


def _simple(query) -> bool:
    """Only terms combined by plain AND / OR, unboosted: what the fast path evaluates."""
    kind = type(query)
    if kind is Term:
        return query.boost == 1.0
    if kind is And or (kind is Or and not query.minmatch and query.scale is None):
        return query.boost == 1.0 and all(_simple(sub) for sub in query.subqueries)
    return False


def _flat(query, under_or: bool = False) -> bool:
    """No AND below an OR: a document the whole query matches then takes the score of every term
    it contains (what the parser builds from plain words: AND of per-word ORs over the fields)."""
    kind = type(query)
    if kind is Term:
        return True
    if kind is And and under_or:
        return False
    return all(_flat(sub, under_or or kind is Or) for sub in query.subqueries)


def _leaves(query) -> list[Term]:
    if type(query) is Term:
        return [query]
    return [leaf for sub in query.subqueries for leaf in _leaves(sub)]


class _FastQuery:
    """A ``_simple`` query evaluated from cached postings: candidates, then scores."""

    def __init__(self, snapshot: _Snapshot, query):
        self.snapshot = snapshot
        self.query = query
        self._terms: dict[tuple[str, str], tuple[set[int], list]] = {}

    def scores(self, docs: list[int]) -> list[tuple[float, int]]:
        """(score, document) of each of ``docs`` (sorted, every one matching the query).

        Scores are BM25F as Whoosh computes them (its scorer objects' parameters, its
        formula term for term); a flat query is scored term by term over the
        documents in one loop, any other through ``score``.
        """
        snapshot = self.snapshot
        if not _flat(self.query) or type(snapshot.searcher.weighting) is not BM25F:
            return [(self.score(d), d) for d in docs]
        totals = dict.fromkeys(docs, 0.0)
        for term in _leaves(self.query):
            _docs, per_leaf = self._postings(term.fieldname, term.text)
            if not _docs:
                continue  # not in the index (no scorer for it either)
            scorer = snapshot.scorer(term.fieldname, term.text)
            idf, avgfl, b, k1 = internals.bm25_parameters(scorer)
            k1_plus_1, one_minus_b = k1 + 1, 1 - b
            for leaf, ids, weights in per_leaf:
                if not ids:
                    continue
                base, count = leaf.base, len(ids)
                lengths = leaf.data.lengths(leaf.reader, term.fieldname)
                end = base + leaf.data.doccount
                for d in docs[bisect_left(docs, base) : bisect_left(docs, end)]:
                    local = d - base
                    i = bisect_left(ids, local)
                    if i < count and ids[i] == local:
                        tf = weights[i]
                        fl = _LENGTH_OF_BYTE[lengths[local]] if lengths is not None else 1
                        # whoosh.scoring.bm25, operation for operation
                        totals[d] += idf * ((tf * k1_plus_1) / (tf + k1 * (one_minus_b + b * fl / avgfl)))
        return [(score, d) for d, score in totals.items()]

    def _postings(self, fieldname: str, text: str) -> tuple[set[int], list]:
        key = (fieldname, text)
        found = self._terms.get(key)
        if found is None:
            per_leaf = self.snapshot.term(fieldname, text)
            docs: set[int] = set()
            for leaf, ids, _weights in per_leaf:
                docs.update(ids if not leaf.base else (leaf.base + d for d in ids))
            found = self._terms[key] = (docs, per_leaf)
        return found

    def docs(self, node=None) -> set[int]:
        node = self.query if node is None else node
        if type(node) is Term:
            return self._postings(node.fieldname, node.text)[0]
        sets = [self.docs(sub) for sub in node.subqueries]
        if type(node) is Or:
            return set().union(*sets)
        sets.sort(key=len)
        return sets[0].intersection(*sets[1:]) if sets else set()

    def score(self, doc: int, node=None) -> float | None:
        node = self.query if node is None else node
        if type(node) is Term:
            return self._term_score(doc, node.fieldname, node.text)
        total, matched = 0.0, False
        for sub in node.subqueries:
            value = self.score(doc, sub)
            if value is None:
                if type(node) is And:
                    return None
                continue
            total += value
            matched = True
        return total if matched else None

    def _term_score(self, doc: int, fieldname: str, text: str) -> float | None:
        _docs, per_leaf = self._postings(fieldname, text)
        snapshot = self.snapshot
        index = bisect_right(snapshot.bases, doc) - 1 if len(per_leaf) > 1 else 0
        leaf, ids, weights = per_leaf[index]
        local = doc - leaf.base
        i = bisect_left(ids, local)
        if i == len(ids) or ids[i] != local:
            return None
        lengths = leaf.data.lengths(leaf.reader, fieldname)
        length = _LENGTH_OF_BYTE[lengths[local]] if lengths is not None else 1
        return internals.term_score(snapshot.scorer(fieldname, text), weights[i], length)


class _Filtered:
    __slots__ = ("kept", "facets", "facet_counts", "distances")

    def __init__(self, kept, facets, facet_counts, distances):
        self.kept, self.facets, self.facet_counts, self.distances = kept, facets, facet_counts, distances


def _within_reach(snapshot: _Snapshot, query: SearchQuery, candidates: set[int] | None) -> dict[int, float]:
    """Live on-site documents (of ``candidates`` when given) that a search near ``query.near``
    reaches, with their distances: the bounding box on the latitude-sorted documents and the
    longitude column first, then the exact ``geo.haversine_km`` (d <= the gig's radius and
    d <= within)."""
    lat0, lng0 = query.near
    within = effective_within(query)
    box = geo.bounding_box(lat0, lng0, within)
    lats, ordered = snapshot.geo()
    lng, radius = snapshot.columns["lng"], snapshot.columns["radius"]
    lat = snapshot.columns["lat"]
    ranges = box.lng_ranges
    haversine = geo.haversine_km
    out: dict[int, float] = {}
    band = ordered[bisect_left(lats, box.lat_min) : bisect_right(lats, box.lat_max)]
    if candidates is not None:
        band = (
            [d for d in band if d in candidates]
            if len(band) <= len(candidates)
            else sorted(candidates.intersection(band))
        )
    for d in band:
        x = lng[d]
        if any(lo <= x <= hi for lo, hi in ranges):
            km = haversine(lat0, lng0, lat[d], x)
            if km <= radius[d] and km <= within:
                out[d] = km
    return out


def _count_dimensions(snapshot: _Snapshot, docs: list[int], query: SearchQuery) -> dict[str, Counter]:
    """Raw counts of every facet dimension over ``docs`` (column values, not yet labelled)."""
    cols = snapshot.columns
    out: dict[str, Counter] = {}
    category = cols["category_id"]
    counts = Counter(map(category.__getitem__, docs))
    counts.update(map(cols["top_other"].__getitem__, docs))
    out["category"] = counts
    out["level"] = Counter(map(cols["level"].__getitem__, docs))
    out["country"] = Counter(map(cols["country"].__getitem__, docs))
    out["mode"] = Counter(map(cols["mode"].__getitem__, docs))
    out["delivery"] = Counter(map(cols["delivery_days"].__getitem__, docs))
    if query.online_sellers:
        online = query.online_sellers
        out["online"] = Counter(1 for s in map(cols["seller_id"].__getitem__, docs) if s in online)
    else:
        out["online"] = Counter()
    by_language = snapshot.languages()
    if by_language and docs:
        docset = set(docs)
        out["language"] = Counter({code: len(docset & members) for code, members in by_language.items()})
    else:
        out["language"] = Counter()
    return out


_DIMENSION_OF_FILTER = {
    "category": "category",
    "level": "level",
    "country": "country",
    "mode": "mode",
    "delivery": "delivery",
    "online": "online",
    "language": "language",
}


def _facet_counts(snapshot: _Snapshot, kept: list[int], only: dict[str, list[int]], query: SearchQuery):
    """(category facets, facet_counts): the counts over ``kept`` plus, per dimension, over the
    documents refused by that dimension's own filter only."""
    counts = _count_dimensions(snapshot, kept, query)
    for name, docs in only.items():
        dimension = _DIMENSION_OF_FILTER.get(name)
        if dimension is not None and docs:
            counts[dimension] += _count_dimensions(snapshot, docs, query)[dimension]
    categories = dict(counts["category"])
    categories.pop(0, None)
    rank_name = {rank: name for name, rank in LEVEL_RANK.items()}
    delivery = counts["delivery"]
    facet_counts = {
        "level": {
            rank_name[rank]: n
            for rank, n in sorted(counts["level"].items())
            if n and rank_name.get(rank) in SELLER_LEVEL_FILTERS
        },
        "language": {code: n for code, n in sorted(counts["language"].items()) if n},
        "country": {unpack_country(c): n for c, n in sorted(counts["country"].items()) if c and n},
        "mode": {name: counts["mode"].get(rank, 0) for name, rank in MODE_RANK.items()},
        "delivery": {
            str(days): sum(n for value, n in delivery.items() if value <= days) for days in DELIVERY_PRESETS
        },
        "online": {"online": counts["online"].get(1, 0)},
    }
    return categories, facet_counts


def _phrases_as_words(query, schema):
    """Quoted phrases keep their meaning where positions are indexed; elsewhere they match the words."""
    if isinstance(query, Phrase):
        if schema[query.fieldname].format.supports("positions"):
            return query
        return And([Term(query.fieldname, word) for word in query.words], boost=query.boost)
    if hasattr(query, "subqueries"):
        query.subqueries = [_phrases_as_words(sub, schema) for sub in query.subqueries]
    elif hasattr(query, "child"):
        query.child = _phrases_as_words(query.child, schema)
    return query


# --------------------------------------------------------------------------- the backend


class WhooshBackend(SearchBackend):
    name = "whoosh"

    def __init__(self):
        self._open: dict[int, tuple[str, object]] = {}
        self._open_lock = threading.Lock()
        # Per thread: tenant id -> _Snapshot. Never shared across threads
        # (plain file handles seek) nor tenants.
        self._local = threading.local()
        self._parsed: OrderedDict[tuple[int, str], object] = OrderedDict()
        self._parsed_lock = threading.Lock()

    # ------------------------------------------------------------------ paths

    def base_dir(self) -> Path:
        return whoosh_index_root()

    def index_dir(self, tenant_id: int) -> Path:
        return whoosh_index_link(tenant_id)

    def _current(self, tenant_id: int) -> tuple[str | None, str]:
        """(generation directory, state): state is "ok", "missing" or "outdated"."""
        link = self.index_dir(tenant_id)
        if not os.path.islink(link):
            return None, ("outdated" if link.exists() else "missing")
        real = os.path.realpath(link)
        match = _GENERATION_RE.match(os.path.basename(real))
        if match is None or int(match.group(1)) != tenant_id or int(match.group(2)) != FORMAT_VERSION:
            return real, "outdated"
        if not os.path.isdir(real):
            return None, "missing"
        return real, "ok"

    def index_state(self, tenant_id: int) -> str:
        return self._current(tenant_id)[1]

    def _index(self, tenant_id: int, create: bool = False):
        """The tenant's index of the current format (cached per generation).

        Raises IndexUnavailable when there is none (unless ``create``) or it has another format.
        """
        real, state = self._current(tenant_id)
        if state == "ok":
            cached = self._open.get(tenant_id)
            if cached and cached[0] == real:
                return cached[1]
            storage = _storage(real)
            if storage.index_exists():
                ix = storage.open_index()
                with self._open_lock:
                    self._open[tenant_id] = (real, ix)
                return ix
            state = "missing"
        if state == "missing" and create:
            real = str(self._new_generation(tenant_id))
            ix = _storage(real).create_index(make_schema())
            self._point(self.index_dir(tenant_id), real)
            with self._open_lock:
                self._open[tenant_id] = (real, ix)
            return ix
        raise IndexUnavailable(tenant_id, state)

    def _new_generation(self, tenant_id: int) -> Path:
        path = self.base_dir() / f"t{tenant_id}-v{FORMAT_VERSION}-{secrets.token_hex(4)}"
        path.mkdir(parents=True)
        return path

    @staticmethod
    def _point(link: Path, target: str) -> None:
        """Atomically (re)point ``link`` at ``target`` (a sibling directory)."""
        tmp = link.with_name(f"{link.name}.swap-{secrets.token_hex(4)}")
        os.symlink(os.path.basename(target), tmp)
        os.replace(tmp, link)

    # ------------------------------------------------------------------ writing

    def write(self, tenant_id: int, docs: Iterable[GigDocument], delete_ids: Iterable[int] = ()) -> int:
        """Replace or add ``docs`` and remove ``delete_ids`` in one writer session.

        Creates the index when there is none; returns the number of segments after the commit.
        """
        docs = list(docs)
        ids = {str(doc.id) for doc in docs} | {str(i) for i in delete_ids}
        ix = self._index(tenant_id, create=bool(docs))
        if not ids:
            return len(internals.segments(ix))
        writer = internals.GigWriter(ix, timeout=WRITER_TIMEOUT)
        try:
            deleted = 0
            with writer.searcher() as searcher:
                for gig_id in ids:
                    deleted += writer.delete_by_term("id", gig_id, searcher=searcher)
            for doc in docs:
                writer.add_gig(document_fields(doc))
        except BaseException:
            writer.cancel()
            raise
        if not docs and not deleted:
            writer.cancel()  # nothing changed: no new generation for every searcher to reopen
        else:
            writer.commit(merge=False)
        return len(internals.segments(ix))

    def index_gigs(self, tenant_id: int, docs: Iterable[GigDocument]) -> int:
        docs = list(docs)
        if docs:
            self.write(tenant_id, docs)
        return len(docs)

    def delete_gigs(self, tenant_id: int, ids: Iterable[int]) -> None:
        ids = list(ids)
        if ids and self.index_state(tenant_id) == "ok":
            self.write(tenant_id, (), ids)

    def merge(self, tenant_id: int) -> int:
        """Merge the small segments into one; returns the segment count.

        The biggest segment (usually the last rebuild's) stays as it is unless the
        others add up to a tenth of it: rewriting it costs as much as a rebuild.
        (Whoosh's own MERGE_SMALL only merges from five segments on, and then not
        always.)
        """
        ix = self._index(tenant_id)
        if len(internals.segments(ix)) > 1:
            writer = internals.GigWriter(ix, timeout=WRITER_TIMEOUT)
            try:
                writer.commit(mergetype=internals.merge_small)
            except BaseException:
                writer.cancel()
                raise
        return len(internals.segments(ix))

    def deleted_share(self, tenant_id: int) -> float:
        """The share of deleted documents still held by the segments (replaced or removed gigs)."""
        total, deleted = internals.document_counts(self._index(tenant_id))
        return deleted / total if total else 0.0

    def rebuild(
        self, tenant_id: int, docs: Iterable[GigDocument], heartbeat: Callable[[], None] | None = None
    ) -> int:
        link = self.index_dir(tenant_id)
        old = os.path.realpath(link) if os.path.islink(link) else None
        fresh = self._new_generation(tenant_id)
        count = 0
        try:
            ix = _storage(fresh).create_index(make_schema())
            # One writer, a big pool (fewer temporary runs to merge), no merge pass:
            # a fresh index written by one writer is a single segment anyway.
            writer = internals.GigWriter(ix, limitmb=REBUILD_LIMITMB)
            try:
                for doc in docs:
                    writer.add_gig(document_fields(doc))
                    count += 1
                    if heartbeat and count % 100 == 0:
                        heartbeat()  # cheap: raises once the writer lock was lost
            except BaseException:
                writer.cancel()
                raise
            writer.commit(optimize=False, merge=False)
            if heartbeat:
                heartbeat()  # never swap in an index built without the lock
            if os.path.isdir(link) and not os.path.islink(link):
                shutil.rmtree(link)  # a directory of a very old layout in the link's place
            self._point(link, str(fresh))
        except BaseException:
            shutil.rmtree(fresh, ignore_errors=True)
            raise
        with self._open_lock:
            self._open.pop(tenant_id, None)
        if old and old != str(fresh):
            _caches.forget(old)
            shutil.rmtree(old, ignore_errors=True)
        return count

    def clear(self, tenant_id: int) -> None:
        with self._open_lock:
            self._open.pop(tenant_id, None)
        self._forget_snapshot(tenant_id)
        for directory in remove_whoosh_index(tenant_id):
            _caches.forget(directory)

    # ------------------------------------------------------------------ reading

    def _snapshots(self) -> OrderedDict:
        cache = getattr(self._local, "snapshots", None)
        if cache is None:
            cache = self._local.snapshots = OrderedDict()
        return cache

    def _forget_snapshot(self, tenant_id: int) -> None:
        cached = self._snapshots().pop(tenant_id, None)
        if cached is not None:
            cached.close()

    def _snapshot(self, tenant_id: int) -> _Snapshot:
        """This thread's snapshot of the tenant's current index (raises IndexUnavailable).

        Reused across queries; replaced when a writer committed or a rebuild swapped generations.
        """
        try:
            ix = self._index(tenant_id)
        except IndexUnavailable:
            self._forget_snapshot(tenant_id)  # dropped, lost or outdated: let go of its files
            raise
        cache = self._snapshots()
        snapshot = cache.get(tenant_id)
        if snapshot is None or snapshot.ix is not ix or not snapshot.current():
            self._forget_snapshot(tenant_id)
            snapshot = _Snapshot(self._open[tenant_id][0], ix)
        cache[tenant_id] = snapshot
        cache.move_to_end(tenant_id)
        while len(cache) > SNAPSHOT_CACHE_SIZE:
            _, old = cache.popitem(last=False)
            old.close()
        return snapshot

    def _with_snapshot(self, tenant_id: int, work: Callable[[_Snapshot], object]):
        try:
            return work(self._snapshot(tenant_id))
        except FileNotFoundError:
            # A rebuild swapped generations while this thread was opening files: once more.
            with self._open_lock:
                self._open.pop(tenant_id, None)
            self._forget_snapshot(tenant_id)
            return work(self._snapshot(tenant_id))

    def search(self, tenant_id: int, query: SearchQuery) -> SearchResult:
        return self._with_snapshot(tenant_id, lambda snapshot: self._search(tenant_id, snapshot, query))

    def _parse(self, tenant_id: int, schema, text: str):
        key = (tenant_id, text)
        with self._parsed_lock:
            if key in self._parsed:
                self._parsed.move_to_end(key)
                return self._parsed[key]
        parser = qparser.MultifieldParser(list(TEXT_FIELDS), schema, group=qparser.AndGroup)
        for plugin in _DISABLED_PLUGINS:
            parser.remove_plugin_class(plugin)
        parsed = parser.parse(text)
        if parsed is NullQuery or isinstance(parsed, type(NullQuery)):
            parsed = None
        else:
            parsed = _phrases_as_words(parsed, schema)
        with self._parsed_lock:
            self._parsed[key] = parsed
            while len(self._parsed) > PARSE_CACHE_SIZE:
                self._parsed.popitem(last=False)
        return parsed

    def _search(self, tenant_id: int, snapshot: _Snapshot, query: SearchQuery) -> SearchResult:
        result = SearchResult()
        text_query = self._parse(tenant_id, snapshot.searcher.schema, query.text) if query.text else None
        fast = None
        if text_query is None:
            docs = snapshot.live_docs()
        elif _simple(text_query):
            fast = _FastQuery(snapshot, text_query)
            docs = fast.docs() - snapshot.deleted if snapshot.deleted else fast.docs()
        else:
            docs = snapshot.searcher.docs_for_query(text_query)  # live documents only
        filtered = self._filter(snapshot, docs, query)
        kept = filtered.kept
        result.facets, result.facet_counts = filtered.facets, filtered.facet_counts
        result.total = len(kept)
        window = current_app.config.get("SEARCH_MAX_RESULTS_WINDOW", 10_000)
        limit = min(query.offset + query.per_page, window)
        if kept and query.offset < limit:
            ordered = self._order(snapshot, kept, query, text_query, fast, limit, filtered.distances)
            gid = snapshot.columns["gid"]
            page = ordered[query.offset : limit]
            result.ids = [gid[d] for d in page]
            result.distances = {gid[d]: filtered.distances[d] for d in page if d in filtered.distances}
        if query.text and result.total < CORRECT_BELOW:
            result.corrected = self._correct(snapshot, query.text)
        return result

    @staticmethod
    def _filter(snapshot: _Snapshot, docs: Iterable[int], query: SearchQuery) -> _Filtered:
        """Documents passing every filter, the category facets (every filter but the category),
        the facet counts of each dimension (every filter but the dimension's own: see
        ``SearchResult.facet_counts``) and, near a point, the distance of each on-site document
        within reach.

        Each active filter yields the documents it refuses; a document refused by exactly one
        filter counts in that filter's dimension only, one refused by none is kept and counts
        everywhere."""
        cols = snapshot.columns
        docs = docs if isinstance(docs, list) else sorted(docs)
        refused: dict[str, list[int]] = {}
        if query.min_price is not None or query.max_price is not None:
            price = cols["price"]
            lo = query.min_price if query.min_price is not None else -(2**63)
            hi = query.max_price if query.max_price is not None else 2**63
            refused["price"] = [d for d in docs if not lo <= price[d] <= hi]
        if query.max_delivery_days is not None:
            delivery, most = cols["delivery_days"], query.max_delivery_days
            refused["delivery"] = [d for d in docs if delivery[d] > most]
        if query.min_rating is not None:
            rating, least = cols["rating"], round(query.min_rating * 100)
            refused["rating"] = [d for d in docs if rating[d] < least]
        if query.seller_levels:
            level, wanted_levels = cols["level"], {LEVEL_RANK[name] for name in query.seller_levels}
            refused["level"] = [d for d in docs if level[d] not in wanted_levels]
        if query.category_ids:
            wanted = set(query.category_ids)
            category, top = cols["category_id"], cols["top_category_id"]
            refused["category"] = [d for d in docs if category[d] not in wanted and top[d] not in wanted]
        distances: dict[int, float] = {}
        if query.near is not None:
            # Only the documents the keywords matched need a distance (all of them without keywords).
            candidates = None if len(docs) == snapshot.doccount else set(docs)
            distances = _within_reach(snapshot, query, candidates)
            mode = cols["mode"]
            refused["near"] = [d for d in docs if mode[d] == ON_SITE and d not in distances]
        modes = set(query.delivery_modes)
        if modes and modes != set(MODE_RANK):
            mode, wanted_mode = cols["mode"], MODE_RANK[next(iter(modes))]
            refused["mode"] = [d for d in docs if mode[d] != wanted_mode]
        if query.languages:
            by_language = snapshot.languages()
            speaking = set().union(*(by_language.get(code, ()) for code in query.languages))
            refused["language"] = [d for d in docs if d not in speaking]
        if query.countries:
            country, wanted_countries = cols["country"], {pack_country(c) for c in query.countries}
            refused["country"] = [d for d in docs if country[d] not in wanted_countries]
        if query.seller_ids is not None:
            seller, wanted_sellers = cols["seller_id"], query.seller_ids
            refused["online"] = [d for d in docs if seller[d] not in wanted_sellers]
        refused = {name: out for name, out in refused.items() if out}
        if not refused:
            kept, only = docs, {}
        elif len(refused) == 1:
            ((name, out),) = refused.items()
            drop = set(out)
            kept, only = [d for d in docs if d not in drop], {name: out}
        else:
            times = Counter()
            for out in refused.values():
                times.update(out)
            kept = [d for d in docs if d not in times]
            only = {name: [d for d in out if times[d] == 1] for name, out in refused.items()}
        facets, facet_counts = _facet_counts(snapshot, kept, only, query)
        return _Filtered(kept, facets, facet_counts, distances)

    def _order(
        self, snapshot, kept, query: SearchQuery, text_query, fast, limit: int, distances: dict
    ) -> list[int]:
        cols = snapshot.columns
        published, gid = cols["published"], cols["gid"]
        sort = query.sort if (query.sort != "relevance" or text_query is not None) else "newest"
        if sort == "distance" and query.near is None:
            sort = "newest"  # build_query refuses it; a hand-made query falls back
        if sort == "newest":
            return heapq.nsmallest(limit, kept, key=lambda d: (-published[d], -gid[d]))
        if sort == "price_asc":
            price = cols["price"]
            return heapq.nsmallest(limit, kept, key=lambda d: (price[d], -published[d], -gid[d]))
        if sort == "price_desc":
            price = cols["price"]
            return heapq.nsmallest(limit, kept, key=lambda d: (-price[d], -published[d], -gid[d]))
        if sort == "distance":
            # On-site gigs by distance (ties: the higher id), then online gigs newest first.
            def nearest(d: int) -> tuple:
                km = distances.get(d)
                if km is None:
                    return (1, 0.0, -published[d], -gid[d])
                return (0, km, 0, -gid[d])

            return heapq.nsmallest(limit, kept, key=nearest)
        if sort == "rating":
            # Rated gigs by their Bayesian average, then the unrated, newest first (see
            # backend.RATING_PRIOR_WEIGHT); the PostgreSQL backend orders exactly the same way.
            rating, count, gid = cols["rating"], cols["rating_count"], cols["gid"]
            mean = snapshot.rating_mean()

            def top_rated(d: int) -> tuple:
                n = count[d]
                if not n:
                    return (1, 0.0, 0, -published[d], -gid[d])
                return (0, -bayesian_rating(rating[d] / 100, n, mean), -n, -published[d], -gid[d])

            return heapq.nsmallest(limit, kept, key=top_rated)
        if fast is not None:
            return [d for _score, d in heapq.nsmallest(limit, ((-s, d) for s, d in fast.scores(kept)))]
        hits = snapshot.searcher.search(text_query, filter=set(kept), limit=limit)
        return [hit.docnum for hit in hits]

    @staticmethod
    def _correct(snapshot: _Snapshot, text: str) -> str | None:
        """Replace each word the index has never seen by its closest known word."""
        schema = snapshot.searcher.schema
        analyzer = schema["words"].analyzer
        reader = snapshot.searcher.reader()
        corrector = None
        changed = False

        def fix(match: re.Match) -> str:
            nonlocal corrector, changed
            word = match.group(0)
            tokens = [t.text for t in analyzer(word)]
            if len(tokens) != 1 or reader.frequency("words", tokens[0]) > 0:
                return word  # a stop word, a number fragment, or a known word
            token = tokens[0]
            if token not in snapshot.corrections:
                if len(snapshot.corrections) >= CORRECTIONS_PER_SNAPSHOT:
                    snapshot.corrections.clear()
                corrector = corrector or snapshot.searcher.corrector("words")
                best = corrector.suggest(token, limit=1, maxdist=2)
                snapshot.corrections[token] = best[0] if best else None
            best = snapshot.corrections[token]
            if best is None:
                return word
            changed = True
            return best

        corrected = WORD_RE.sub(fix, text)
        return corrected if changed else None

    def suggest(self, tenant_id: int, prefix: str, limit: int = 8) -> list[str]:
        typed = " ".join(prefix.lower().split())
        words = [w[:NGRAM_MAX] for w in WORD_RE.findall(typed) if len(w) >= NGRAM_MIN]
        if not words:
            return []
        return self._with_snapshot(tenant_id, lambda snapshot: self._suggest(snapshot, typed, words, limit))

    @staticmethod
    def _suggest(snapshot: _Snapshot, typed: str, words: list[str], limit: int) -> list[str]:
        out: list[str] = []
        seen = {typed}
        if not snapshot.doccount:
            return out
        for tag in islice(snapshot.searcher.reader().expand_prefix("tag", typed), 50):
            tag = tag.decode() if isinstance(tag, bytes) else tag
            if tag not in seen:
                seen.add(tag)
                out.append(tag)
            if len(out) >= min(3, limit):
                break
        fast = _FastQuery(snapshot, And([Term("ngrams", w) for w in words]))
        docs = fast.docs() - snapshot.deleted if snapshot.deleted else fast.docs()
        best = heapq.nsmallest(limit * 2, ((-s, d) for s, d in fast.scores(sorted(docs))))
        for _score, d in best:
            title = snapshot.searcher.stored_fields(d)["title"]
            if title.lower() not in seen:
                seen.add(title.lower())
                out.append(title)
            if len(out) >= limit:
                break
        return out
