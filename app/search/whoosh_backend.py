"""Whoosh backend: one on-disk index per tenant. The only module that imports whoosh.

Layout: ``<SEARCH_INDEX_DIR>/t<tenant_id>`` is a symlink to a generation
directory ``t<tenant_id>-<hex>``; ``rebuild`` fills a fresh generation and
swaps the link atomically (``os.replace``), so searches never see a half-built
index. Writes must be serialised per tenant by the caller (``app.search.services``
holds the Redis lock ``t:<tenant_id>:search:writer``); Whoosh's own file lock
is then always free, and a short ``timeout`` on it is only a backstop.

Package: ``Whoosh==2.7.4``, the original and by far the most widely used
release (the forks are archived or obscure). Pinned in requirements.txt.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import shutil
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from itertools import islice
from pathlib import Path

from flask import current_app
from whoosh import fields, index, qparser, sorting
from whoosh.analysis import StemmingAnalyzer
from whoosh.query import And, Every, NullQuery, NumericRange, Or, Term

from app.search.backend import GigDocument, SearchBackend, SearchQuery, SearchResult

log = logging.getLogger(__name__)

NGRAM_MIN, NGRAM_MAX = 2, 15
REBUILD_LIMITMB = 256
# Searchers kept open per thread (one per tenant, most recently used first).
SEARCHER_CACHE_SIZE = 32
# Text matches up to this many are filtered by reading the sortable columns;
# beyond it the filters run as (bitset) queries over the whole index.
COLUMN_FILTER_MAX = 20_000
# "Did you mean" only when the query found fewer hits than this.
CORRECT_BELOW = 5
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
TEXT_FIELDS = ("title", "description", "tags", "seller")


def make_schema() -> fields.Schema:
    stem = StemmingAnalyzer()
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        title=fields.TEXT(analyzer=stem, stored=True, field_boost=3.0),
        description=fields.TEXT(analyzer=stem),
        # Tags are searched with stemming ("logos" finds "logo") and kept whole in
        # ``tag`` for completions.
        tags=fields.TEXT(analyzer=stem, field_boost=2.0),
        tag=fields.KEYWORD(commas=True, lowercase=True),
        seller=fields.TEXT(field_boost=1.5),
        # Every searchable word unstemmed: the vocabulary of "did you mean".
        words=fields.TEXT(spelling=True),
        ngrams=fields.NGRAMWORDS(minsize=NGRAM_MIN, maxsize=NGRAM_MAX, at="start"),
        category_id=fields.NUMERIC(int, sortable=True),
        top_category_id=fields.NUMERIC(int, sortable=True),
        price=fields.NUMERIC(int, bits=64, sortable=True),
        delivery_days=fields.NUMERIC(int, sortable=True),
        rating=fields.NUMERIC(int, sortable=True),  # hundredths: 4.75 -> 475
        rating_count=fields.NUMERIC(int, sortable=True),
        published_at=fields.DATETIME(sortable=True),
    )


def _fields(doc: GigDocument) -> dict:
    tags = ", ".join(doc.tags)
    return {
        "id": str(doc.id),
        "title": doc.title,
        "description": doc.description,
        "tags": tags,
        "tag": tags,
        "seller": doc.seller,
        "words": " ".join((doc.title, tags, doc.seller, doc.description)),
        "ngrams": f"{doc.title} {' '.join(doc.tags)}",
        "category_id": doc.category_id or 0,
        "top_category_id": doc.top_category_id or 0,
        "price": doc.min_price_minor,
        "delivery_days": doc.min_delivery_days,
        "rating": round(doc.rating * 100),
        "rating_count": doc.rating_count,
        "published_at": doc.published_at.replace(tzinfo=None),  # Whoosh wants naive UTC
    }


_NEWEST = sorting.FieldFacet("published_at", reverse=True)
_SORTS = {
    "price_asc": [sorting.FieldFacet("price"), _NEWEST],
    "price_desc": [sorting.FieldFacet("price", reverse=True), _NEWEST],
    "rating": [
        sorting.FieldFacet("rating", reverse=True),
        sorting.FieldFacet("rating_count", reverse=True),
        _NEWEST,
    ],
    "newest": [_NEWEST],
}


class WhooshBackend(SearchBackend):
    name = "whoosh"

    def __init__(self):
        self._open: dict[int, tuple[str, index.Index]] = {}
        self._open_lock = threading.Lock()
        # Per thread: tenant id -> (index object of the generation, open Searcher).
        # Never shared across threads (Whoosh file handles seek) nor tenants.
        self._local = threading.local()

    # ------------------------------------------------------------------ paths

    def base_dir(self) -> Path:
        return Path(
            current_app.config.get("SEARCH_INDEX_DIR") or Path(current_app.config["INSTANCE_DIR"]) / "search"
        )

    def index_dir(self, tenant_id: int) -> Path:
        if not isinstance(tenant_id, int) or isinstance(tenant_id, bool) or tenant_id <= 0:
            raise ValueError(f"invalid tenant id {tenant_id!r}")
        return self.base_dir() / f"t{tenant_id}"

    def _index(self, tenant_id: int, create: bool = False) -> index.Index | None:
        """The tenant's index (cached per generation), None when there is none yet."""
        link = self.index_dir(tenant_id)
        real = os.path.realpath(link)
        cached = self._open.get(tenant_id)
        if cached and cached[0] == real:
            return cached[1]
        if os.path.isdir(real) and index.exists_in(real):
            ix = index.open_dir(real)
        elif create:
            real = str(self._new_generation(tenant_id))
            ix = index.create_in(real, make_schema())
            self._point(link, real)
        else:
            return None
        with self._open_lock:
            self._open[tenant_id] = (real, ix)
        return ix

    def _new_generation(self, tenant_id: int) -> Path:
        path = self.base_dir() / f"t{tenant_id}-{secrets.token_hex(4)}"
        path.mkdir(parents=True)
        return path

    @staticmethod
    def _point(link: Path, target: str) -> None:
        """Atomically (re)point ``link`` at ``target`` (a sibling directory)."""
        tmp = link.with_name(f"{link.name}.swap-{secrets.token_hex(4)}")
        os.symlink(os.path.basename(target), tmp)
        os.replace(tmp, link)

    # ------------------------------------------------------------------ writing

    def index_gigs(self, tenant_id: int, docs: Iterable[GigDocument]) -> int:
        docs = list(docs)
        if not docs:
            return 0
        ix = self._index(tenant_id, create=True)
        writer = ix.writer(timeout=10.0)
        try:
            for doc in docs:
                writer.update_document(**_fields(doc))
        except BaseException:
            writer.cancel()
            raise
        writer.commit()
        return len(docs)

    def delete_gigs(self, tenant_id: int, ids: Iterable[int]) -> None:
        ids = [str(i) for i in ids]
        ix = self._index(tenant_id)
        if ix is None or not ids:
            return
        writer = ix.writer(timeout=10.0)
        try:
            for gig_id in ids:
                writer.delete_by_term("id", gig_id)
        except BaseException:
            writer.cancel()
            raise
        writer.commit()

    def rebuild(
        self, tenant_id: int, docs: Iterable[GigDocument], heartbeat: Callable[[], None] | None = None
    ) -> int:
        link = self.index_dir(tenant_id)
        old = os.path.realpath(link) if os.path.islink(link) else None
        fresh = self._new_generation(tenant_id)
        count = 0
        try:
            ix = index.create_in(str(fresh), make_schema())
            # One writer, a big pool (fewer temporary runs to merge), no optimize
            # pass: a fresh index written by one writer is a single segment anyway.
            writer = ix.writer(limitmb=REBUILD_LIMITMB)
            try:
                for doc in docs:
                    writer.add_document(**_fields(doc))
                    count += 1
                    if heartbeat and count % 100 == 0:
                        heartbeat()  # cheap: raises once the writer lock was lost
            except BaseException:
                writer.cancel()
                raise
            writer.commit(optimize=False, merge=False)
            if heartbeat:
                heartbeat()  # never swap in an index built without the lock
            self._point(link, str(fresh))
        except BaseException:
            shutil.rmtree(fresh, ignore_errors=True)
            raise
        with self._open_lock:
            self._open.pop(tenant_id, None)
        if old and old != str(fresh):
            shutil.rmtree(old, ignore_errors=True)
        return count

    def clear(self, tenant_id: int) -> None:
        link = self.index_dir(tenant_id)
        with self._open_lock:
            self._open.pop(tenant_id, None)
        if os.path.islink(link) or link.exists():
            if os.path.islink(link):
                link.unlink()
            else:
                shutil.rmtree(link, ignore_errors=True)
        if self.base_dir().is_dir():
            for path in self.base_dir().glob(f"t{tenant_id}-*"):
                shutil.rmtree(path, ignore_errors=True)

    # ------------------------------------------------------------------ reading

    def _searchers(self) -> OrderedDict:
        cache = getattr(self._local, "searchers", None)
        if cache is None:
            cache = self._local.searchers = OrderedDict()
        return cache

    def _forget_searcher(self, tenant_id: int) -> None:
        cached = self._searchers().pop(tenant_id, None)
        if cached is not None:
            with contextlib.suppress(Exception):
                cached[1].close()

    def _searcher(self, tenant_id: int):
        """This thread's open searcher on the tenant's current index, or None.

        Reused across queries: reopened when a rebuild swapped generations,
        ``refresh()``-ed (a no-op unless a writer committed since) otherwise.
        """
        ix = self._index(tenant_id)
        cache = self._searchers()
        if ix is None:
            self._forget_searcher(tenant_id)
            return None
        cached = cache.get(tenant_id)
        if cached is not None and cached[0] is ix:
            searcher = cached[1].refresh()
        else:
            self._forget_searcher(tenant_id)
            searcher = ix.searcher()
        cache[tenant_id] = (ix, searcher)
        cache.move_to_end(tenant_id)
        while len(cache) > SEARCHER_CACHE_SIZE:
            _, (_, old) = cache.popitem(last=False)
            with contextlib.suppress(Exception):
                old.close()
        return searcher

    def search(self, tenant_id: int, query: SearchQuery) -> SearchResult:
        try:
            return self._search(tenant_id, query)
        except FileNotFoundError:
            # A rebuild swapped generations while this search was opening files: once more.
            with self._open_lock:
                self._open.pop(tenant_id, None)
            self._forget_searcher(tenant_id)
            return self._search(tenant_id, query)

    def _search(self, tenant_id: int, query: SearchQuery) -> SearchResult:
        searcher = self._searcher(tenant_id)
        if searcher is None:
            return SearchResult()
        schema = searcher.schema
        text_query = self._parse(schema, query.text) if query.text else None
        window = current_app.config.get("SEARCH_MAX_RESULTS_WINDOW", 10_000)
        sort = query.sort if (query.sort != "relevance" or text_query is not None) else "newest"
        sortedby = sorting.MultiFacet(_SORTS[sort]) if sort in _SORTS else None
        limit = max(1, min(query.offset + query.per_page, window))
        result = SearchResult()
        matched = self._matched_by_columns(searcher, text_query, query) if text_query is not None else None
        if matched is not None:
            # Few text matches: filters and facets straight from the sortable
            # columns of those documents, then one scoring pass over what is left.
            candidates, facets = matched
            result.facets = facets
            # (An empty set would mean "no filter" to Whoosh: nothing to search then.)
            hits = (
                searcher.search(text_query, filter=candidates, limit=limit, sortedby=sortedby)
                if candidates
                else None
            )
        else:
            matcher = text_query if text_query is not None else Every()
            filters = self._filters(query)
            category = self._category_filter(query.category_ids)
            facet = {
                "category": sorting.FieldFacet("category_id", maptype=sorting.Count),
                "top": sorting.FieldFacet("top_category_id", maptype=sorting.Count),
            }
            hits = searcher.search(
                matcher,
                filter=_and([*filters, category]),
                limit=limit,
                sortedby=sortedby,
                groupedby=None if category is not None else facet,
            )
            if category is None:
                groups = (hits.groups("category"), hits.groups("top"))
            else:
                # Facets leave the category filter out, so the buyer sees where else to look.
                unfiltered = searcher.search(matcher, filter=_and(filters), limit=1, groupedby=facet)
                groups = (unfiltered.groups("category"), unfiltered.groups("top"))
            result.facets = {int(k): v for k, v in groups[0].items() if k}
            result.facets.update({int(k): v for k, v in groups[1].items() if k})
        if matched is not None:
            result.total = len(matched[0])  # every candidate matches the text: no counting pass
        else:
            result.total = len(hits)
        if hits is not None and query.offset < window:
            result.ids = [int(hit["id"]) for hit in hits[query.offset : query.offset + query.per_page]]
        if query.text and result.total < CORRECT_BELOW:
            result.corrected = self._correct(searcher, schema, query.text)
        return result

    @staticmethod
    def _matched_by_columns(searcher, text_query, query: SearchQuery):
        """(doc numbers passing every filter, category facets), or None when the
        text matches too many documents for a per-document column check."""
        docs = list(searcher.docs_for_query(text_query))
        if not docs:
            return set(), {}  # also: an empty index's reader has no columns
        if len(docs) > COLUMN_FILTER_MAX:
            return None
        reader = searcher.reader()
        checks = []
        if query.min_price is not None or query.max_price is not None:
            lo = query.min_price if query.min_price is not None else -(2**63)
            hi = query.max_price if query.max_price is not None else 2**63
            checks.append((reader.column_reader("price"), lo, hi))
        if query.max_delivery_days is not None:
            checks.append((reader.column_reader("delivery_days"), -(2**31), query.max_delivery_days))
        if query.min_rating is not None:
            checks.append((reader.column_reader("rating"), round(query.min_rating * 100), 2**31))
        if checks:
            docs = [d for d in docs if all(lo <= col[d] <= hi for col, lo, hi in checks)]
        category_col = reader.column_reader("category_id")
        top_col = reader.column_reader("top_category_id")
        facets: dict[int, int] = {}
        wanted = set(query.category_ids)
        kept = set()
        for d in docs:
            cid, top = category_col[d], top_col[d]
            if cid:
                facets[cid] = facets.get(cid, 0) + 1
            if top and top != cid:
                facets[top] = facets.get(top, 0) + 1
            if not wanted or cid in wanted or top in wanted:
                kept.add(d)
        return kept, facets

    @staticmethod
    def _parse(schema, text: str):
        parser = qparser.MultifieldParser(list(TEXT_FIELDS), schema, group=qparser.AndGroup)
        for plugin in _DISABLED_PLUGINS:
            parser.remove_plugin_class(plugin)
        parsed = parser.parse(text)
        return None if parsed is NullQuery or isinstance(parsed, type(NullQuery)) else parsed

    @staticmethod
    def _filters(query: SearchQuery) -> list:
        filters = []
        if query.min_price is not None or query.max_price is not None:
            filters.append(NumericRange("price", query.min_price, query.max_price))
        if query.max_delivery_days is not None:
            filters.append(NumericRange("delivery_days", None, query.max_delivery_days))
        if query.min_rating is not None:
            filters.append(NumericRange("rating", round(query.min_rating * 100), None))
        return filters

    @staticmethod
    def _category_filter(category_ids: tuple[int, ...]):
        if not category_ids:
            return None
        terms = []
        for cid in category_ids:
            terms += [NumericRange("category_id", cid, cid), NumericRange("top_category_id", cid, cid)]
        return Or(terms)

    @staticmethod
    def _correct(searcher, schema, text: str) -> str | None:
        """Replace each word the index has never seen by its closest known word."""
        analyzer = schema["words"].analyzer
        reader = searcher.reader()
        corrector = None
        changed = False

        def fix(match: re.Match) -> str:
            nonlocal corrector, changed
            word = match.group(0)
            tokens = [t.text for t in analyzer(word)]
            if len(tokens) != 1 or reader.frequency("words", tokens[0]) > 0:
                return word  # a stop word, a number fragment, or a known word
            corrector = corrector or searcher.corrector("words")
            best = corrector.suggest(tokens[0], limit=1, maxdist=2)
            if not best:
                return word
            changed = True
            return best[0]

        corrected = WORD_RE.sub(fix, text)
        return corrected if changed else None

    def suggest(self, tenant_id: int, prefix: str, limit: int = 8) -> list[str]:
        ix = self._index(tenant_id)
        typed = " ".join(prefix.lower().split())
        words = [w[:NGRAM_MAX] for w in WORD_RE.findall(typed) if len(w) >= NGRAM_MIN]
        if ix is None or not words:
            return []
        out: list[str] = []
        seen = {typed}
        searcher = self._searcher(tenant_id)
        if searcher is not None:
            for tag in islice(searcher.reader().expand_prefix("tag", typed), 50):
                tag = tag.decode() if isinstance(tag, bytes) else tag
                if tag not in seen:
                    seen.add(tag)
                    out.append(tag)
                if len(out) >= min(3, limit):
                    break
            hits = searcher.search(And([Term("ngrams", w) for w in words]), limit=limit * 2)
            for hit in hits:
                title = hit["title"]
                if title.lower() not in seen:
                    seen.add(title.lower())
                    out.append(title)
                if len(out) >= limit:
                    break
        return out


def _and(queries: list):
    queries = [q for q in queries if q is not None]
    if not queries:
        return None
    return queries[0] if len(queries) == 1 else And(queries)
