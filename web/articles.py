"""One article: its page and `/api/articles/{id}`, and labelling it in place (`POST
/api/labels`, and the page's one-click forms), through `classify.labels.add_labels`, the
function `cait label` calls; the next `cait train` learns from the rows."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Header, HTTPException, Path, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from classify.labels import add_labels
from db.models import MAX_ROW_ID
from reports.article import ArticleDetail, article_detail
from web.context import NO_NUL, check_write, db, page

router = APIRouter()
DB = Annotated[Session, Depends(db)]
# Article ids are PostgreSQL INTEGERs: a larger id is refused here (422), not by the
# database as an error (a 500 schemathesis found with id 11102014236).
ArticleId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
Verdict = Literal["chips", "data", "talent", "open_source", "china_ai"]


def _detail(session: Session, article_id: int) -> ArticleDetail:
    found = article_detail(session, article_id)
    if found is None:
        raise HTTPException(404, f"no article with id {article_id}")
    return found


@router.get("/api/articles/{article_id}", summary="One article with its tags, evidence, labels "
                                                  "and Related-News chain")
def api_article(session: DB, article_id: ArticleId) -> dict[str, Any]:
    return _detail(session, article_id).to_json()


class LabelRequest(BaseModel):
    article_id: int = Field(ge=1, le=MAX_ROW_ID)
    labels: dict[Verdict, bool] = Field(
        min_length=1, description="theme or china_ai → true (confirm) / false (reject)")
    note: str | None = Field(default=None, max_length=2000, pattern=NO_NUL)


class LabelResult(BaseModel):
    added: int
    author: str


@router.post("/api/labels", response_model=LabelResult,
             summary="Confirm or reject tags (login and the X-CSRF-Token header needed)")
def api_labels(request: Request, session: DB, body: LabelRequest,
               x_csrf_token: Annotated[str | None, Header()] = None) -> LabelResult:
    author = check_write(request, x_csrf_token)
    added = add_labels(session, body.article_id, {str(k): v for k, v in body.labels.items()},
                       author, body.note)
    session.commit()  # before the answer: the request's session closes after it is sent
    return LabelResult(added=added, author=author)


@router.post("/articles/{article_id}/labels", include_in_schema=False)
def label_form(request: Request, session: DB, article_id: ArticleId,
               theme: Annotated[Verdict, Form()], value: Annotated[Literal["yes", "no"], Form()],
               csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    author = check_write(request, csrf)
    add_labels(session, article_id, {theme: value == "yes"}, author)
    session.commit()
    return RedirectResponse(f"/articles/{article_id}#labels", 303)


@router.get("/articles/{article_id}", include_in_schema=False)
def article_page(request: Request, session: DB, article_id: ArticleId) -> Response:
    return page(request, "article.html", a=_detail(session, article_id))
