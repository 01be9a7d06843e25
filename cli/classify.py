"""`cait classify`, `label`, `train`, `eval`, `explain`: thin commands over `classify`.

scikit-learn takes a second to import, so `classify` is imported inside the commands that
use it: every other `cait` command starts without it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from cli._common import (
    FormatOption,
    JsonFlag,
    console,
    err_console,
    note,
    open_output,
    open_session,
    output_format,
    print_json,
    print_rows,
    safe,
    settings,
)
from common.errors import UserError
from common.vocabulary import RELEVANCE, THEMES

if TYPE_CHECKING:
    from classify.model import ThemeModel


app = typer.Typer()


def _model_dir() -> Path:
    return settings().effective_model_dir


@app.command("classify")
def classify_command(
    input_file: Annotated[Path | None, typer.Option(
        "--input", help="JSON lines {id, title, text}: classify them without a database.",
        dir_okay=False)] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", help="Where to write the JSON lines (default: stdout).")] = None,
    retag_all: Annotated[bool, typer.Option("--all", help="Re-tag every article.")] = False,
) -> None:
    """Tag stored articles not yet tagged by the current model, or classify a JSONL file.

    Example: cait classify
    Example: cait classify --input articles.jsonl --output tags.jsonl
    """
    from classify import registry, tagging

    if input_file is not None:
        if not input_file.exists():
            raise UserError(f"no such file: {input_file}")
        handle: TextIO = open_output(output) if output else sys.stdout
        try:
            _classify_file(registry.file_model(_model_dir(), note), input_file, handle)
        finally:
            if output:
                handle.close()
        return
    with open_session() as session:
        model = registry.ensure_model(session, _model_dir(), note)
        with Progress(TextColumn("tagging"), BarColumn(), MofNCompleteColumn(),
                      TimeRemainingColumn(), console=err_console, transient=True,
                      disable=not err_console.is_terminal) as bar:
            task = bar.add_task("tagging", total=None)
            report = tagging.tag_articles(
                session, model, retag_all=retag_all,
                on_total=lambda total: bar.update(task, total=total),
                progress=lambda done: bar.advance(task, done))
    console.print(f"tagged {report.tagged} articles with {model.version}: "
                  f"{report.china_ai} about China's AI; " + ", ".join(
                      f"{t} {n}" for t, n in (report.by_theme or {}).items()), highlight=False)


def _classify_file(model: ThemeModel, path: Path, out: TextIO) -> None:
    from classify import examples as ex

    batch: list[ex.InputItem] = []

    def flush() -> None:
        good = [item for item in batch if item.error is None]
        predictions = iter(model.predict([ex.document(i.title, i.text) for i in good]))
        for item in batch:
            row = ({"id": item.id, "error": item.error} if item.error is not None
                   else next(predictions).to_json(item.id))
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        batch.clear()

    for item in ex.read_input(path):
        batch.append(item)
        if len(batch) >= 500:
            flush()
    flush()


def _parse_yes_no(value: str | None) -> bool | None:
    if value is None:
        return None
    if value.lower() in ("yes", "y", "true", "1"):
        return True
    if value.lower() in ("no", "n", "false", "0"):
        return False
    raise UserError(f"--china-ai must be yes or no, not {value!r}")


@app.command("label")
def label_command(
    article_id: Annotated[int | None, typer.Argument(help="The article to label.")] = None,
    theme: Annotated[list[str] | None, typer.Option(
        "--theme", help="A theme the article IS about; repeat.")] = None,
    not_theme: Annotated[list[str] | None, typer.Option(
        "--not", help="A theme the article is NOT about; repeat.")] = None,
    china_ai: Annotated[str | None, typer.Option(
        "--china-ai", help="yes/no: is it about AI in China?")] = None,
    author: Annotated[str | None, typer.Option(help="Who labels.")] = None,
    import_file: Annotated[Path | None, typer.Option(
        "--import", help="JSON lines {article_id, labels: [themes], not: [themes], "
                         "china_ai}.", dir_okay=False)] = None,
    suggest: Annotated[int | None, typer.Option(
        "--suggest", min=1, max=1000,
        help="List N unlabelled articles the current model is least sure about.")] = None,
) -> None:
    """Add human labels (used by `cait train`), or list the articles most worth labelling.

    Example: cait label 42 --theme chips --not data --china-ai yes
    Example: cait label --import labels.jsonl
    Example: cait label --suggest 20
    """
    from classify import examples as ex
    from classify.labels import add_labels

    if suggest is not None:
        _suggest(suggest)
        return
    with open_session() as session:
        rows: list[tuple[int, dict[str, bool]]] = []
        if import_file is not None:
            if not import_file.exists():
                raise UserError(f"no such file: {import_file}")
            for number, row in ex.read_jsonl(import_file):
                rows.append(ex.label_row(row, f"{import_file}:{number}"))
        elif article_id is not None:
            verdicts = {t: True for t in theme or []}
            verdicts.update({t: False for t in not_theme or []})
            relevance = _parse_yes_no(china_ai)
            if relevance is not None:
                verdicts[RELEVANCE] = relevance
            rows.append((article_id, verdicts))
        else:
            raise UserError("give an ARTICLE_ID or --import FILE")
        added = sum(add_labels(session, target, verdicts, author) for target, verdicts in rows)
    console.print(f"{added} labels added")


def _suggest(limit: int) -> None:
    from sqlalchemy import select

    from classify import registry, tagging
    from db.models import Article, ArticleTheme

    with open_session() as session:
        model = registry.ensure_model(session, _model_dir(), note)
        picks = tagging.least_certain(session, model, limit)
        ids = [article_id for article_id, _ in picks]
        titles = {article_id: title for article_id, title in session.execute(
            select(Article.id, Article.title).where(Article.id.in_(ids)))}
        scores = {(row.article_id, row.theme): row.score for row in session.scalars(
            select(ArticleTheme).where(ArticleTheme.article_id.in_(ids),
                                       ArticleTheme.model_version == model.version))}
    if not picks:
        console.print(f"no unlabelled articles tagged by {model.version}: run `cait classify`",
                      highlight=False)
        return
    table = Table("id", "margin", *THEMES, RELEVANCE, "title",
                  title=f"least certain under {model.version}: label these first")
    for article_id, margin in picks:
        table.add_row(str(article_id), f"{margin:.3f}",
                      *(f"{scores.get((article_id, label), 0.0):.2f}"
                        for label in [*THEMES, RELEVANCE]),
                      safe(titles.get(article_id), 90))
    console.print(table)


@app.command("train")
def train_command() -> None:
    """Retrain from the committed anchors plus all human labels; record a new model version.

    Example: cait train
    """
    from classify import examples as ex
    from classify import registry, train

    with open_session() as session:
        previous = registry.file_model_path(_model_dir(), note)
        labelled = ex.label_examples(session)
        note(f"training a new model: the committed anchors and {len(labelled)} examples from "
             f"human labels")
        model = train.fit(ex.anchor_examples() + labelled, note=note)
        path = model.save(_model_dir())
        registry.record(session, model, path)
        registry.set_current(_model_dir(), path, previous)
    cv = model.metrics["cross_validated"]
    console.print(f"model {model.version}: {model.metrics['examples']} examples "
                  f"({len(labelled)} from human labels); cross-validated macro-F1 "
                  f"{cv['macro_f1']:.3f}, China-AI macro-F1 {cv[RELEVANCE]['macro_f1']:.3f}",
                  highlight=False)


@app.command("eval")
def eval_command(
    input_file: Annotated[Path | None, typer.Option(
        "--input", help="Gold JSON lines {id, title, text, labels, china_ai}.",
        dir_okay=False)] = None,
    format: FormatOption = "table",
    as_json: JsonFlag = False,
) -> None:
    """Per-theme precision/recall/F1 and macro-F1: on a gold file, else cross-validated.

    Example: cait eval --input gold.jsonl
    Example: cait eval --format csv
    """
    chosen = output_format(format, as_json)
    from classify import examples as ex
    from classify import registry, train

    model = registry.file_model(_model_dir(), note)
    before = registry.previous_file_model(_model_dir())
    if input_file is not None:
        if not input_file.exists():
            raise UserError(f"no such file: {input_file}")
        gold = ex.labelled_file(input_file)
        result = train.evaluate(train.model_predictor(model), gold)
        earlier = (train.evaluate(train.model_predictor(before), gold)
                   if before is not None else None)
        source = f"{input_file}: {model.version}"
    else:
        result = model.metrics["cross_validated"]
        earlier = before.metrics["cross_validated"] if before is not None else None
        source = f"cross-validation of {model.version} on its training data"
    if chosen == "json":
        print_json({**result, "previous": None if before is None else
                    {"version": before.version, **(earlier or {})}})
        return
    if chosen != "table":
        rows = [{"theme": theme, **result["themes"][theme],
                 "f1_before": earlier["themes"][theme]["f1"] if earlier else None}
                for theme in THEMES]
        print_rows(rows, chosen)
        return
    table = Table("theme", "precision", "recall", "F1", "support",
                  *([f"F1 before ({before.version})"] if before is not None else []),
                  title=source)
    for theme in THEMES:
        row = result["themes"][theme]
        table.add_row(theme, f"{row['precision']:.3f}", f"{row['recall']:.3f}",
                      f"{row['f1']:.3f}", str(row["support"]),
                      *([f"{earlier['themes'][theme]['f1']:.3f}"] if earlier else []))
    console.print(table)
    console.print(f"macro-F1 {result['macro_f1']:.3f} · China-AI macro-F1 "
                  f"{result[RELEVANCE]['macro_f1']:.3f}", highlight=False)
    if earlier is not None and before is not None:
        console.print(f"before ({before.version}): macro-F1 {earlier['macro_f1']:.3f} · "
                      f"China-AI macro-F1 {earlier[RELEVANCE]['macro_f1']:.3f}",
                      highlight=False)


@app.command("explain")
def explain_command(
    article_id: Annotated[int | None, typer.Argument(help="A stored article.")] = None,
    text: Annotated[str | None, typer.Option("--text", help="Explain this text instead.")] = None,
) -> None:
    """Per theme, the score, the terms that pushed it up, and the sentences behind each tag.

    Example: cait explain 42
    Example: cait explain --text "Huawei ships Ascend 910C chips to DeepSeek"
    """
    from sqlalchemy import select

    from classify import examples as ex
    from classify import registry
    from db.models import Article

    if text is not None:
        doc = ex.document("", text)
        model = registry.file_model(_model_dir(), note)
    elif article_id is not None:
        with open_session() as session:
            row = session.execute(select(Article.title, Article.text, Article.summary)
                                  .where(Article.id == article_id)).first()
            if row is None:
                raise UserError(f"no article with id {article_id}")
            doc = ex.document(row.title, row.text or row.summary)
            model = registry.ensure_model(session, _model_dir(), note)
    else:
        raise UserError("give an ARTICLE_ID or --text")
    prediction = model.predict([doc])[0]
    reasons = model.explain(doc)
    table = Table("label", "score", "tagged", "pushed up by")
    for label in [*THEMES, RELEVANCE]:
        score = prediction.china_ai_score if label == RELEVANCE else prediction.scores[label]
        tagged = prediction.china_ai if label == RELEVANCE else label in prediction.themes
        table.add_row(label, f"{score:.3f}", "yes" if tagged else "",
                      ", ".join(f"{name} (+{value:.2f})" for name, value in reasons[label][:6]))
    console.print(table)
    for label, sentences in model.evidence(doc, prediction).items():
        for sentence in sentences:
            console.print(safe(f"{label}: “{sentence}”", 320))
