"""schemathesis against `cait serve`'s own OpenAPI document: every GET operation and `POST
/api/labels` (logged in, with the CSRF token, so generated bodies reach the label writer)
get generated input — valid and invalid — over loopback, and no answer may be a 5xx
(`not_a_server_error`). The served subprocess is the real server: the `serving` fixture
also fails on any traceback in its log. SQLite and PostgreSQL.

Examples per operation are bounded (`EXAMPLES`): about 20 s per database.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.test_reports import corpus  # noqa: F401  (the seeded fixture)
from tests.test_web import PASSWORD, serving, site  # noqa: F401

# Per operation and mode: about 400 requests in all. derandomize: the same inputs every run,
# so a failure reproduces. Below it, a regression test for each 500 found: the article id by
# schemathesis; NUL by hand, probing the same parameters.
EXAMPLES = 20


def _log_in(base: str) -> tuple[str, str]:
    """The session cookie and CSRF token of a logged-in user."""
    with httpx.Client(base_url=base) as web:
        token = web.get("/api/session").json()["csrf_token"]
        done = web.post("/api/login", json={"name": "alice", "password": PASSWORD},
                        headers={"X-CSRF-Token": token})
        assert done.status_code == 200
        return str(web.cookies["cait_session"]), token


@pytest.mark.slow
def test_generated_requests_never_get_a_server_error(site: dict[str, int], db_url: str,  # noqa: F811
                                                     tmp_path: Path) -> None:
    with serving(db_url, tmp_path) as base:
        cookie, token = _log_in(base)
        schema = schemathesis.openapi.from_url(f"{base}/openapi.json").include(
            lambda ctx: ctx.operation.method.upper() == "GET"
            or ctx.operation.label == "POST /api/labels")
        operations = [result.ok() for result in schema.get_all_operations()]
        labels = [op.label for op in operations]
        assert "POST /api/labels" in labels and "GET /api/narratives" in labels
        assert len(labels) >= 10, labels
        for operation in operations:
            has_input = any(len(p) for p in (operation.path_parameters, operation.query,
                                             operation.body))
            # invalid input needs an input to spoil: none for GET /api/sources
            modes = [GenerationMode.POSITIVE] + [GenerationMode.NEGATIVE] * has_input
            for mode in modes:
                strategy = operation.as_strategy(
                    mode, headers={"X-CSRF-Token": token}, cookies={"cait_session": cookie})

                @settings(max_examples=EXAMPLES, deadline=None, database=None,
                          suppress_health_check=list(HealthCheck), derandomize=True)
                @given(case=strategy)
                def run(case: schemathesis.Case) -> None:
                    case.call_and_validate(base_url=base, checks=[not_a_server_error],
                                           timeout=30)

                run()



def test_article_ids_past_postgresql_integer_are_a_422(site: dict[str, int],  # noqa: F811
                                                       db_url: str, tmp_path: Path) -> None:
    """`GET /api/articles/11102014236` was a 500 on PostgreSQL (ids are INTEGER there)."""
    with serving(db_url, tmp_path) as base, httpx.Client(base_url=base) as web:
        cookie, token = _log_in(base)
        web.cookies.set("cait_session", cookie)
        assert web.get(f"/api/articles/{2**31 - 1}").status_code == 404
        for too_big in (2**31, 11102014236):
            assert web.get(f"/api/articles/{too_big}").status_code == 422
            assert web.get(f"/articles/{too_big}").status_code == 422
            refused = web.post("/api/labels", json={"article_id": too_big,
                                                    "labels": {"chips": True}},
                               headers={"X-CSRF-Token": token})
            assert refused.status_code == 422, refused.text


def test_nul_in_free_text_is_a_422(site: dict[str, int], db_url: str,  # noqa: F811
                                   tmp_path: Path) -> None:
    """`GET /api/timeline?source=%00` was a 500 on PostgreSQL (text cannot hold NUL)."""
    with serving(db_url, tmp_path) as base, httpx.Client(base_url=base) as web:
        cookie, token = _log_in(base)
        web.cookies.set("cait_session", cookie)
        for path in ("/api/timeline?source=%00", "/api/search?source=x%00",
                     "/api/articles?source=%00", "/api/search?q=a%00b", "/search?q=%00",
                     "/search?source=%00"):
            assert web.get(path).status_code == 422, path
        nul = web.post("/api/labels", json={"article_id": site["burst"],
                                            "labels": {"chips": True}, "note": "a\x00b"},
                       headers={"X-CSRF-Token": token})
        assert nul.status_code == 422 and nul.json()["detail"][0]["loc"] == ["body", "note"]
        fine = web.post("/api/labels", json={"article_id": site["burst"],
                                             "labels": {"chips": True}, "note": "checked"},
                        headers={"X-CSRF-Token": token})
        assert fine.status_code == 200 and fine.json()["added"] == 1
