"""The index format: index-time analysis is exactly Whoosh's, the fast keyword path ranks exactly like
Whoosh's searcher, and an index of another format is answered from the database and rebuilt."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rq import Queue
from whoosh import fields

from app.demo import catalog
from app.search import whoosh_internals as internals
from app.search.backend import get_backend
from app.search.whoosh_backend import _FastQuery, _simple
from app.search.whoosh_schema import FORMAT_VERSION, FastNgramWords, FastText, make_schema

SCHEMA = make_schema()
FAST_FIELDS = sorted(name for name in SCHEMA.names() if isinstance(SCHEMA[name], FastText | FastNgramWords))
EDGE_CASES = [
    "",
    "I will design a modern minimalist logo",
    "the THE a an will Will WILL I",
    "E-mail U.S.A. 3.5 x.y.z a.b.c..d e...f __init__ 12 34.56 7,8",
    "İstanbul ÉCOLE straße ﬁne naïve café résumé 𝔘nicode ñandú 😀",
    "logos Logo LOGOS logo's designing designer designs",
    "supercalifragilisticexpialidocious antidisestablishment",
]
CATALOG_TEXTS = [
    text
    for spec in catalog.SUBCATEGORIES.values()
    for text in (*spec["titles"], *spec["intro"], *spec["tags"], *spec["features"])
]


def whoosh_items(field, text: str) -> list:
    """What the stock Whoosh field type of the same configuration indexes for ``text``."""
    stock = fields.NGRAMWORDS if isinstance(field, FastNgramWords) else fields.TEXT
    return sorted(stock.index(field, text))


@pytest.mark.parametrize("name", FAST_FIELDS)
def test_fast_analysis_indexes_exactly_what_whoosh_indexes(name):
    field = SCHEMA[name]
    for text in EDGE_CASES + CATALOG_TEXTS:
        assert sorted(field.index(text)) == whoosh_items(field, text), (name, text)


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        st.sampled_from(list("aAzZ09 .,-'_/İıßéÉ\u0307ﬁ😀\t")) | st.characters(exclude_categories=("Cs",)),
        max_size=60,
    )
)
def test_fast_analysis_matches_whoosh_on_any_text(text):
    for name in FAST_FIELDS:
        field = SCHEMA[name]
        assert sorted(field.index(text)) == whoosh_items(field, text), name


@pytest.fixture
def shelf(acme, make_seller, make_gig, run_jobs, in_tenant):
    """Gigs sharing words in different fields and amounts, written by several events (several
    segments), one of them paused afterwards (a deleted document)."""
    dana = make_seller(acme, display_name="Dana Logo Designer")
    walt = make_seller(acme, display_name="Walt Wordsmith")
    specs = [
        (dana, "I will design a modern logo", ("logo", "branding"), "A modern logo, modern fonts."),
        (dana, "I will design a logo and brand guide", ("brand",), "Logo files and a logo guide."),
        (walt, "I will write a modern blog post", ("blog",), "Modern writing about logos."),
        (walt, "I will write website copy", ("copywriting",), "Copy that converts, no logo."),
        (dana, "I will redesign your modern logo", ("logo", "redesign"), "Redesign of your logo."),
        (walt, "I will write a modern logo story", ("story",), "A story for your logo design."),
        (dana, "I will draw a mascot logo", ("mascot", "logo"), "Mascot design for brands."),
    ]
    ids = [
        make_gig(acme, seller, title=title, tags=tags, description=description)
        for seller, title, tags, description in specs
    ]
    run_jobs()
    paused = make_gig(acme, dana, title="I will design a modern logo fast", status="active")
    run_jobs()
    from app.accounts.models import User
    from app.gigs import services as gig_services
    from app.gigs.models import Gig
    from tenants.db import db

    with in_tenant(acme):
        gig_services.pause_gig(db.session.get(User, dana), db.session.get(Gig, paused))
        db.session.commit()
    run_jobs()
    return ids


@pytest.mark.parametrize(
    "text", ["logo", "modern logo", "design logo", "write modern", "logos brand", "dana logo", "wordsmith"]
)
def test_keyword_queries_rank_exactly_as_whoosh_ranks_them(shelf, acme, in_tenant, text):
    with in_tenant(acme):
        backend = get_backend()
        snapshot = backend._snapshot(acme.id)
        assert len(snapshot.leaves) > 1 and snapshot.deleted  # several segments, a deleted document
        parsed = backend._parse(acme.id, snapshot.searcher.schema, text)
        assert _simple(parsed)
        fast = _FastQuery(snapshot, parsed)
        docs = sorted(fast.docs() - snapshot.deleted)
        ours = sorted((round(-score, 9), d) for score, d in fast.scores(docs))  # the flat loop
        one_by_one = sorted((round(-fast.score(d), 9), d) for d in docs)  # the general recursion
        hits = snapshot.searcher.search(parsed, limit=None)
        theirs = sorted((round(-hit.score, 9), hit.docnum) for hit in hits)
        assert ours and ours == one_by_one == theirs


def test_quoted_phrases_and_operators_go_through_whoosh(shelf, acme, search):
    # Titles keep positions: the phrase must be there as a phrase. Descriptions do not: there a
    # quoted phrase matches its words ("Modern writing about logos.").
    assert set(search(acme, q='"modern logo"')[0]) == {
        "I will design a modern logo",
        "I will redesign your modern logo",
        "I will write a modern logo story",
        "I will write a modern blog post",
    }
    assert search(acme, q='"logo files"')[0] == ["I will design a logo and brand guide"]
    assert set(search(acme, q="mascot OR copy")[0]) == {
        "I will draw a mascot logo",
        "I will write website copy",
    }
    assert set(search(acme, q="write NOT blog")[0]) == {
        "I will write website copy",
        "I will write a modern logo story",
    }
    titles, result = search(acme, q="(modern OR mascot) logo", min_price=1, sort="price_asc")
    assert result.total == 5 and "I will design a logo and brand guide" not in titles


def _make_outdated(link) -> str:
    """Turn the tenant's index into one of format 1 (no version in the generation's name)."""
    current = link.resolve()
    old = current.with_name(f"{link.name}-0123abcd")
    os.rename(current, old)
    link.unlink()
    link.symlink_to(old.name)
    return old


def test_an_index_of_an_older_format_is_answered_from_the_database_and_rebuilt(
    acme, seller, make_gig, run_jobs, search, search_index_dir, app, index_state
):
    make_gig(acme, seller, title="I will paint a watercolor portrait")
    run_jobs()
    link = search_index_dir / f"t{acme.id}"
    assert f"-v{FORMAT_VERSION}-" in link.resolve().name
    old = _make_outdated(link)
    assert index_state(acme.id) == "outdated"

    titles, result = search(acme, q="watercolor")  # PostgreSQL full-text answers meanwhile
    assert titles == ["I will paint a watercolor portrait"] and result.total == 1
    make_gig(acme, seller, title="I will paint a watercolor landscape")  # a write cannot use the old index
    queued = [job.func_name for job in Queue("default", connection=app.extensions["redis"]).get_jobs()]
    assert queued == ["app.search.tasks.rebuild_index"]  # once, however many searches and writes

    run_jobs()
    assert index_state(acme.id) == "ok" and not old.exists()
    titles, result = search(acme, q="watercolr")  # "did you mean" is the Whoosh index's
    assert titles == [] and result.corrected == "watercolor"
    assert set(search(acme, q="watercolor")[0]) == {
        "I will paint a watercolor portrait",
        "I will paint a watercolor landscape",
    }


def test_reindex_outdated_rebuilds_only_what_needs_it(
    acme, globex, make_seller, make_gig, run_jobs, search_index_dir, app, index_state
):
    make_gig(acme, make_seller(acme), title="I will paint a watercolor portrait")
    make_gig(globex, make_seller(globex), title="I will write globex world domination plans")
    run_jobs()
    _make_outdated(search_index_dir / f"t{acme.id}")
    result = app.test_cli_runner().invoke(args=["search", "reindex", "--outdated"])
    assert result.exit_code == 0, result.output
    assert "acme: 1 gig(s) indexed" in result.output and "globex" not in result.output
    assert index_state(acme.id) == index_state(globex.id) == "ok"


def _dump(ix) -> dict:
    """Everything a reader can tell about an index: postings, lengths, stored fields, columns."""
    from app.search.whoosh_schema import COLUMNS

    with ix.reader() as reader:
        postings = {}
        for fieldname, text in reader.all_terms():
            matcher = reader.postings(fieldname, text)
            postings[(fieldname, text)] = list(matcher.items_as("weight"))
        docs = range(reader.doc_count_all())
        return {
            "postings": postings,
            "stored": [reader.stored_fields(d) for d in docs],
            "lengths": {
                name: [reader.doc_field_length(d, name) for d in docs]
                for name in ("title", "description", "tags", "seller", "words", "ngrams")
            },
            "columns": {name: list(reader.column_reader(name)) for name, _ in COLUMNS},
            "field_lengths": {name: reader.field_length(name) for name in ("title", "description")},
        }


def test_postings_are_read_as_whooshs_matchers_read_them(tmp_path):
    from app.search.whoosh_backend import _storage

    ix = _storage(tmp_path).create_index(make_schema())
    writer = ix.writer()
    for n, text in enumerate(CATALOG_TEXTS * 5):  # enough documents for multi-block postings
        writer.add_document(id=str(n), title=text, description=text, words=text, gid=n)
    writer.commit()
    with ix.reader() as reader:
        terms = list(reader.all_terms())
        assert max(reader.doc_frequency(f, t) for f, t in terms) > 128  # several blocks
        for fieldname, text in terms:
            ids, weights = internals.read_postings(reader, fieldname, text)
            expected = list(reader.postings(fieldname, text).items_as("weight"))
            assert list(zip(ids, weights, strict=True)) == expected, (fieldname, text)


def test_our_writer_writes_what_whooshs_writer_writes(tmp_path):
    """The bulk ``add_gig`` and the grouping posting pool (also when it spills to runs) against
    Whoosh's own ``SegmentWriter.add_document`` and ``PostingPool``."""
    from datetime import UTC, datetime

    from whoosh.writing import SegmentWriter

    from app.search.backend import GigDocument
    from app.search.whoosh_backend import _storage
    from app.search.whoosh_schema import document_fields

    docs = [
        GigDocument(
            id=n,
            title=text[:100] or "untitled",
            description=" ".join(CATALOG_TEXTS[n : n + 5]),
            tags=("logo", "brand identity")[: n % 3],
            seller=f"Seller {n} seller-{n}",
            category_id=n % 4 or None,
            top_category_id=(n % 4 and 9) or None,
            min_price_minor=100 * n + 1,
            min_delivery_days=1 + n % 7,
            rating=(n % 50) / 10,
            rating_count=n % 13,
            published_at=datetime(2026, 1, 1 + n % 28, tzinfo=UTC),
        )
        for n, text in enumerate(EDGE_CASES + CATALOG_TEXTS[:60])
    ]
    dumps = {}
    for way in ("whoosh", "ours", "ours-spilling"):
        folder = tmp_path / way
        folder.mkdir()
        ix = _storage(folder).create_index(make_schema())
        if way == "whoosh":
            writer = SegmentWriter(ix)
            for doc in docs:
                writer.add_document(**document_fields(doc))
        else:
            # limitmb=0: the pool spills a run after every document, and the commit merges them.
            writer = internals.GigWriter(ix, limitmb=0 if way == "ours-spilling" else 128)
            for doc in docs:
                writer.add_gig(document_fields(doc))
            assert (len(writer.pool.runs) > 1) == (way == "ours-spilling")
        writer.commit()
        dumps[way] = _dump(ix)
    assert dumps["whoosh"] == dumps["ours"] == dumps["ours-spilling"]
    assert dumps["ours"]["stored"][1] == {"id": "1", "title": docs[1].title}


def test_analysed_words_are_the_analyzers_tokens_and_positions():
    from whoosh.analysis import StandardAnalyzer, StemmingAnalyzer

    for stem, analyzer in ((False, StandardAnalyzer()), (True, StemmingAnalyzer())):
        for text in EDGE_CASES + CATALOG_TEXTS:
            stock = [(token.pos, token.text) for token in analyzer(text, positions=True)]
            assert internals.analysed_words(text, stem) == stock, (stem, text)


def _segmented_index(folder, sizes, delete=()):
    """An index of one segment per size (stock writer, no merging), then ``delete`` (gig ids) removed."""
    from app.search.whoosh_backend import _storage

    folder.mkdir(parents=True, exist_ok=True)
    ix = _storage(folder).create_index(make_schema())
    n = 0
    for size in sizes:
        writer = ix.writer()
        for _ in range(size):
            text = CATALOG_TEXTS[n % len(CATALOG_TEXTS)]
            writer.add_document(
                id=str(n),
                title=text,
                description=f"{text} {n}",
                tags="logo, brand"[: n % 11],
                gid=n,
                price=n * 7,
            )
            n += 1
        writer.commit(merge=False)
    if delete:
        writer = ix.writer()
        for gig_id in delete:
            writer.delete_by_term("id", str(gig_id))
        writer.commit(merge=False)
    return ix


def test_segment_columns_lengths_and_deletions_read_as_whoosh_reads_them(tmp_path):
    """Every reading helper of ``whoosh_internals`` against the stock reader's answer, on an index of
    several segments with deletions."""
    from app.search.whoosh_schema import COLUMNS

    ix = _segmented_index(tmp_path, [40, 7, 3], delete=[1, 2, 41, 49])
    assert len(internals.segments(ix)) == 3
    with ix.reader() as reader:
        assert internals.document_counts(ix) == (
            reader.doc_count_all(),
            reader.doc_count_all() - reader.doc_count(),
        )
        assert reader.doc_count_all() - reader.doc_count() == 4
        leaves = list(reader.leaf_readers())
        assert len(leaves) == 3
        assert len({internals.segment_id(leaf) for leaf, _base in leaves}) == 3
        deleted = set()
        for leaf, base in leaves:
            count = leaf.doc_count_all()
            docs = range(count)
            ours = sorted(internals.deleted_docs(leaf))
            assert ours == [d for d in docs if leaf.is_deleted(d)]
            deleted.update(base + d for d in ours)
            for name, typecode in COLUMNS:
                stock = leaf.column_reader(name, translate=False)
                assert list(internals.numeric_column(leaf, name, count, typecode)) == [stock[d] for d in docs]
            for fieldname in ("title", "description", "tags", "id", "gid"):
                lengths = internals.field_lengths(leaf, fieldname, count)
                stock = [leaf.doc_field_length(d, fieldname, None) for d in docs]
                if lengths is None:  # a field without lengths
                    assert set(stock) == {None}, fieldname
                else:
                    assert [internals.LENGTH_OF_BYTE[b] if b else None for b in lengths] == stock, fieldname
            perdoc = leaf.codec().per_document_reader(leaf.storage(), leaf.segment())
            cached = internals.CachedLengths(leaf.codec().per_document_reader(leaf.storage(), leaf.segment()))
            for fieldname in ("title", "description", "tags", "id"):
                assert [cached.doc_field_length(d, fieldname) for d in docs] == [
                    perdoc.doc_field_length(d, fieldname) for d in docs
                ], fieldname
            cached.close()
            perdoc.close()
        assert deleted == {1, 2, 41, 49}


def test_merging_small_segments_keeps_every_document_and_the_big_segment(tmp_path):
    """``merge_small``, the merge policy of the background merges: the small segments become one, the
    big one stays as it is (until the small ones add up to a tenth of it), and no document changes."""

    def live(ix):
        with ix.reader() as reader:
            return sorted((f["id"], f["title"]) for _d, f in reader.iter_docs())

    ix = _segmented_index(tmp_path / "a", [40, 2, 1], delete=[3, 40])
    before, biggest = live(ix), max(internals.segments(ix), key=lambda seg: seg.doc_count_all())
    internals.GigWriter(ix).commit(mergetype=internals.merge_small)
    assert len(internals.segments(ix)) == 2 and biggest.segment_id() in {
        seg.segment_id() for seg in internals.segments(ix)
    }
    assert live(ix) == before

    ix = _segmented_index(tmp_path / "b", [20, 1, 1])  # 2 * 10 >= 20: everything is merged
    before = live(ix)
    internals.GigWriter(ix).commit(mergetype=internals.merge_small)
    assert len(internals.segments(ix)) == 1 and live(ix) == before
