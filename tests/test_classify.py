"""The classifier: anchors, determinism, persistence, predictions, tagging stored articles."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from classify.examples import ANCHORS, anchor_examples, document, labelled_file
from classify.model import ThemeModel
from classify.tagging import relevance_gate, tag_articles
from classify.train import fit
from common.errors import ModelMismatch
from common.vocabulary import RELEVANCE, THEMES, TermMatcher, term_hits
from db.models import Article, ArticleTheme
from db.session import session_scope
from tests.pages import seed_paragraphs

DEV = Path(__file__).resolve().parents[1] / "bench" / "data" / "dev.jsonl"


def test_seed_anchors_are_labelled_with_reasons() -> None:
    rows = [json.loads(line) for line in (ANCHORS / "seeds.jsonl").read_text().splitlines()]
    assert {r["source"] for r in rows} == {"abmedia_lambert_china_ai_labs.txt",
                                          "gogoai_lambert_china_ai_tour.txt"}
    for row in rows:
        assert row["text"].strip() and len(row["rationale"]) > 20
        assert set(row["labels"]) <= set(THEMES)
    covered = {t for r in rows for t in r["labels"]}
    assert covered == set(THEMES)


def test_dev_set_is_never_trained_on() -> None:
    dev = [json.loads(line) for line in DEV.read_text().splitlines()]
    assert len(dev) >= 80 and all(r["url"].startswith("http") for r in dev)
    train_rows = [json.loads(line) for line in (ANCHORS / "articles.jsonl").read_text()
                  .splitlines()]
    assert not {r["url"] for r in dev} & {r["url"] for r in train_rows}
    train_texts = {e.text for e in anchor_examples()}
    assert not {r["text"] for r in dev} & train_texts


def test_term_matching_whole_words_hyphens_and_chinese() -> None:
    matcher = TermMatcher({"open_source": ["open source", "llama"], "chips": ["芯片", "ai chip"]})
    found = matcher.count("Open-source models like Llama run on an AI chip; 国产芯片 too. "
                          "Llamas are animals.")
    assert found["open_source"] == {"open source": 1, "llama": 1}
    assert found["chips"] == {"芯片": 1, "ai chip": 1}
    assert term_hits("Huawei Ascend chips face export controls", "chips")[:1] in (
        ["ascend"], ["chips"], ["export controls"])


def test_training_is_deterministic() -> None:
    examples = anchor_examples()
    a, b = fit(examples), fit(examples)
    assert a.version == b.version and a.thresholds == b.thresholds
    docs = [e.document for e in examples[:40]]
    pa, pb = a.predict(docs), b.predict(docs)
    assert [p.scores for p in pa] == [p.scores for p in pb]


def test_saved_model_round_trips(default_classifier: ThemeModel, tmp_path: Path) -> None:
    path = default_classifier.save(tmp_path)
    loaded = ThemeModel.load(path)
    docs = [document(e.title, e.text) for e in labelled_file(DEV)[:20]]
    assert [p.scores for p in loaded.predict(docs)] == [
        p.scores for p in default_classifier.predict(docs)]
    assert loaded.version == default_classifier.version
    bundle = joblib.load(path)
    bundle["sklearn"] = "0.0.1"
    joblib.dump(bundle, path)
    with pytest.raises(ModelMismatch, match="cait train"):
        ThemeModel.load(path)


@pytest.mark.parametrize(("title", "themes", "china"), [
    ("Huawei ships Ascend 910C accelerators as US export controls on Nvidia chips tighten",
     {"chips"}, True),
    ("Alibaba open-sources Qwen weights on Hugging Face; downloads pass Llama", {"open_source"},
     True),
    ("Meta poaches OpenAI researchers with $100 million pay packages", {"talent"}, False),
    ("阿里巴巴开源通义千问大模型权重", {"open_source"}, True),
    ("Local council approves new bicycle lanes downtown", set(), False),
])
def test_clear_cases(default_classifier: ThemeModel, title: str, themes: set[str],
                     china: bool) -> None:
    [prediction] = default_classifier.predict([document(title, "")])
    assert set(prediction.themes) == themes
    assert prediction.china_ai is china


def test_evidence_is_the_tags_own_terms(default_classifier: ThemeModel) -> None:
    doc = document("Huawei Ascend chips", "Export controls keep Nvidia GPUs out of Chinese labs.")
    [prediction] = default_classifier.predict([doc])
    evidence = default_classifier.evidence(doc, prediction)
    # the sentence that carries the tag, which names its terms
    assert evidence["chips"] == ["Export controls keep Nvidia GPUs out of Chinese labs."]
    assert evidence[RELEVANCE] == evidence["chips"]  # China named beside chips


def test_relevance_gate_on_the_seed_related_titles(default_classifier: ThemeModel) -> None:
    gate = relevance_gate(default_classifier)
    _, titles = seed_paragraphs()
    passed = [t for t in titles if gate(t) >= 0.5]
    assert passed == ["DeepSeek Raises Funding at $45B Valuation Amid AI Competition"]


def test_tagging_stored_articles_and_the_weekly_view(engine: Engine,
                                                     default_classifier: ThemeModel) -> None:
    from datetime import UTC, datetime
    body, _ = seed_paragraphs()
    with session_scope(engine) as s:
        s.add_all([
            Article(url="u1", canonical_url="https://x.cn/1", title="Huawei Ascend chips",
                    text=" ".join(body[14:18]),
                    published_at=datetime(2026, 5, 12, tzinfo=UTC)),
            Article(url="u2", canonical_url="https://x.cn/2", title="Qwen open weights",
                    text="Alibaba open-sourced Qwen weights on Hugging Face; Chinese labs lead "
                         "open model downloads.", published_at=datetime(2026, 5, 13, tzinfo=UTC)),
            Article(url="u3", canonical_url="https://x.cn/3", title="Bike lanes",
                    text="The council approved bicycle lanes.",
                    published_at=datetime(2026, 5, 13, tzinfo=UTC)),
        ])
    with session_scope(engine) as s:
        report = tag_articles(s, default_classifier)
    assert report.tagged == 3 and report.china_ai == 2
    with session_scope(engine) as s:  # tagging kept the rollup equal to a full rebuild
        from db.models import ThemeDaily
        from db.rollup import rebuild
        kept = sorted((r.day, r.theme, r.articles) for r in s.scalars(select(ThemeDaily)))
        rebuild(s)
        assert kept == sorted((r.day, r.theme, r.articles) for r in s.scalars(select(ThemeDaily)))
        assert ("2026-05-12", "chips", 1) in kept
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(ArticleTheme)) == 3 * (len(THEMES) + 1)
        assert tag_articles(s, default_classifier).tagged == 0
        totals: list[int] = []
        done: list[int] = []  # what `cait classify --all` draws its progress bar from
        assert tag_articles(s, default_classifier, retag_all=True, on_total=totals.append,
                            progress=done.append).tagged == 3
        assert totals == [3] and sum(done) == 3
        versions = set(s.scalars(select(ArticleTheme.model_version)))
        assert versions == {default_classifier.version}
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT week, theme, articles, share FROM theme_weekly "
                                 "ORDER BY theme")).all()
    assert [(r.week, r.theme, r.articles) for r in rows] == [
        ("2026-W20", "chips", 1), ("2026-W20", "open_source", 1)]
    assert all(np.isclose(r.share, 0.5) for r in rows)


def test_word_tfidf_counts_as_scikit_learn_does() -> None:
    """The Counter-based transform gives scikit-learn's own numbers (its fast path)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from classify.model import WordTfidf, document_words

    texts = [e.document for e in labelled_file(DEV)][:120]
    for min_df in (1, 2):
        ours = WordTfidf(tokenizer=document_words, lowercase=False, token_pattern=None,
                         sublinear_tf=True, min_df=min_df, dtype=np.float32).fit(texts[:80])
        reference = TfidfVectorizer(tokenizer=document_words, lowercase=False,
                                    token_pattern=None, sublinear_tf=True, min_df=min_df,
                                    dtype=np.float32).fit(texts[:80])
        unseen = [*texts[80:], "", "华为 昇腾 芯片 Huawei Huawei"]
        a, b = ours.transform(unseen), reference.transform(unseen)
        assert a.shape == b.shape and a.dtype == b.dtype
        assert np.allclose(a.toarray(), b.toarray(), atol=1e-6)
        assert (a.toarray() > 0).sum() > 1000  # the check compares real numbers


def test_fast_paths_read_text_as_the_tokenizer_does() -> None:
    """The classifier's shortcuts (shared word lists, one-pass sentence ends) agree with the
    one tokenizer and `sentence_ends` on real articles and on edge cases."""
    from classify.model import document_words
    from common.text import sentence_ends, words
    from common.vocabulary import default_matcher

    documents = [e.document for e in labelled_file(DEV)]
    documents += ["", "\n", "Title only", "t\n\nbody. more\n", "Is it?\nYes. No\n",
                  "标题\n正文。句子！"]
    matcher = default_matcher()
    for item in documents:
        assert document_words(item) == tuple(words(item)), item[:60]
        body = item.partition("\n")[2].lower()
        assert matcher.profile(item).n_sentences == len(sentence_ends(body)), item[:60]
    assert sum(1 for d in documents if not any("\u4e00" <= c <= "\u9fff" for c in d)) > 100
