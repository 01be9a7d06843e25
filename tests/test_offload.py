"""The parser process pool: same results as in-process, and a dying process costs one document."""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from collectors.dedup import Fingerprint, body_hash, fingerprint
from collectors.entries import identified_entries, new_entries
from collectors.offload import MAX_BROKEN_POOLS, Offload
from collectors.prepare import PreparedFeed, prepare_changed_feed, prepare_feed
from config import load_settings
from tests.conftest import CORPUS

ROOT = Path(__file__).resolve().parents[1]
BASE = "https://feed.example/feed.xml"
FEEDS = ["Ranchero-Software-NetNewsWire__kc0011.rss", "miniflux-v2__encoding_WINDOWS-1251.xml",
         "miniflux-v2__rdf_UTF8.xml", "Ranchero-Software-NetNewsWire__3960.json"]


def _kill_pool_processes(before: set[int]) -> None:
    victims = [p for p in multiprocessing.active_children() if p.pid not in before]
    assert victims, "the pool has no process to kill"
    for process in victims:
        os.kill(process.pid or 0, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(p.is_alive() for p in victims) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_the_pool_prepares_feeds_exactly_as_the_process_itself() -> None:
    bodies = [(CORPUS / "feeds" / name).read_bytes() for name in FEEDS]

    async def through(offload: Offload) -> list[PreparedFeed]:
        return [await offload.prepare_feed(body, {}, BASE) for body in bodies]

    with Offload(1) as pool:
        pooled = asyncio.run(through(pool))
    assert pooled == [prepare_feed(body, {}, BASE) for body in bodies]
    assert all(p.parsed.ok and p.parsed.entries for p in pooled)
    assert all(len(p.parsed.entries) == len(p.canonical_urls) for p in pooled)


def test_a_source_feed_is_hashed_where_it_is_parsed_and_not_parsed_when_unchanged() -> None:
    body = (CORPUS / "feeds" / FEEDS[0]).read_bytes()

    async def through(offload: Offload) -> list[PreparedFeed | None]:
        return [await offload.prepare_changed_feed(body, {}, BASE, known)
                for known in (None, "another body's hash", body_hash(body))]

    with Offload(1) as pool:
        pooled = asyncio.run(through(pool))
    changed = dataclasses.replace(prepare_feed(body, {}, BASE), body_hash=body_hash(body))
    assert pooled == [changed, changed, None]
    assert prepare_changed_feed(body, {}, BASE, None) == changed


def test_a_source_first_feed_comes_with_the_fingerprints_the_writing_process_would_take(
) -> None:
    body = (CORPUS / "feeds" / FEEDS[0]).read_bytes()

    async def through(offload: Offload) -> PreparedFeed | None:
        return await offload.prepare_changed_feed(body, {}, BASE, None, first=True)

    with Offload(1) as pool:
        pooled = asyncio.run(through(pool))
    assert pooled is not None and pooled.fingerprints is not None
    expected: dict[str, object] = {}
    for url, entry in zip(pooled.canonical_urls, pooled.parsed.entries, strict=True):
        expected.setdefault(url, fingerprint(entry.body_for_identity))
    assert pooled.fingerprints == expected  # content hash and SimHash, the first entry's
    assert sum(p.simhash is not None for p in pooled.fingerprints.values()) >= 5
    unfingerprinted = dataclasses.replace(pooled, fingerprints=None)
    assert unfingerprinted == prepare_changed_feed(body, {}, BASE, None)


def test_the_writing_process_takes_the_fingerprints_a_first_feed_came_with(
        sessions: sessionmaker[Session]) -> None:
    body = (CORPUS / "feeds" / FEEDS[0]).read_bytes()
    first = prepare_changed_feed(body, {}, BASE, None, first=True)
    assert first is not None and first.fingerprints
    # copies, as they arrive from a parser process: objects this process never made (its own
    # fingerprints of the same texts are remembered objects, `dedup.fingerprint`)
    sent = {url: Fingerprint(p.content_hash, p.simhash) for url, p in first.fingerprints.items()}
    with sessions() as session:
        fresh, known, _ = new_entries(
            session, identified_entries(dataclasses.replace(first, fingerprints=sent)))
        taken, _, _ = new_entries(
            session, identified_entries(dataclasses.replace(first, fingerprints=None)))
    assert known == 0 and len(fresh) == len(sent)
    assert all(identity is sent[url] for url, _, identity in fresh)  # not taken again here
    assert [identity for _, _, identity in taken] == [identity for _, _, identity in fresh]


def test_the_pool_names_its_running_processes() -> None:
    """`pids`: none before the pool starts or after it closes; while warm, each of its
    processes, alive and a child of this one (the benches read their CPU time by it)."""
    before = {p.pid for p in multiprocessing.active_children()}
    offload = Offload(2)
    assert offload.pids() == []
    offload.warm()
    try:
        pids = offload.pids()
        assert len(pids) == 2
        assert set(pids) == {p.pid for p in multiprocessing.active_children()} - before
    finally:
        offload.close()
    assert offload.pids() == []


def test_a_dying_pool_process_fails_only_the_document_in_hand() -> None:
    body = (CORPUS / "feeds" / FEEDS[0]).read_bytes()
    before = {p.pid for p in multiprocessing.active_children()}

    async def scenario() -> None:
        with Offload(1) as offload:
            first = await offload.prepare_feed(body, {}, BASE)
            _kill_pool_processes(before)
            lost = await offload.prepare_feed(body, {}, BASE)
            assert not lost.parsed.ok and "parser process died" in (lost.parsed.error or "")
            assert lost.parsed.entries == []
            again = await offload.prepare_feed(body, {}, BASE)  # a new pool took over
            assert again == first and offload.processes == 1

    asyncio.run(scenario())


def test_a_pool_that_keeps_dying_is_given_up_for_in_process_parsing(
        caplog: pytest.LogCaptureFixture) -> None:
    body = (CORPUS / "feeds" / FEEDS[0]).read_bytes()
    before = {p.pid for p in multiprocessing.active_children()}

    async def scenario() -> None:
        with Offload(1) as offload:
            for _ in range(MAX_BROKEN_POOLS):
                offload.start()
                await asyncio.to_thread(_kill_pool_processes, before)
                lost = await offload.prepare_feed(body, {}, BASE)
                assert not lost.parsed.ok
            assert offload.processes == 0
            inline = await offload.prepare_feed(body, {}, BASE)
            assert inline == prepare_feed(body, {}, BASE)

    asyncio.run(scenario())
    assert "parsing in this process from now on" in caplog.text


def test_pool_processes_leave_when_their_parent_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(
        "import asyncio, multiprocessing, sys, time\n"
        "from collectors.offload import Offload\n"
        "if __name__ == '__main__':\n"
        "    offload = Offload(1)\n"
        "    offload.start()\n"
        "    asyncio.run(offload.prepare_feed(b'<rss><channel></channel></rss>', {}, 'x'))\n"
        "    print(*[p.pid for p in multiprocessing.active_children()], flush=True)\n"
        "    time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[1])
    assert parent.stdout is not None
    with parent.stdout:
        children = [int(pid) for pid in parent.stdout.readline().split()]
    assert children
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in children)


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0]
    except FileNotFoundError:
        return False
    return status != "Z"  # a zombie has exited; only its parent (init here) can reap it


def test_parse_processes_default_to_the_cores_this_process_may_use() -> None:
    cores = len(os.sched_getaffinity(0))
    assert load_settings(environ={}).parse_processes == "auto"
    assert load_settings(environ={}).parse_process_count == cores
    assert load_settings(environ={"CAIT_PARSE_PROCESSES": "Auto"}).parse_process_count == cores
    assert load_settings(environ={"CAIT_PARSE_PROCESSES": "3"}).parse_process_count == 3
    assert load_settings(environ={"CAIT_PARSE_PROCESSES": "0"}).parse_process_count == 0
    with pytest.raises(ValueError, match="CAIT_PARSE_PROCESSES must be a number or auto"):
        load_settings(environ={"CAIT_PARSE_PROCESSES": "many"})


def test_pool_processes_do_not_import_the_program_that_starts_them(tmp_path: Path) -> None:
    # 'spawn' would run the main module again in each process: the `cait` script would
    # import the whole CLI there. Every import of this script leaves a line in the log.
    log = tmp_path / "imports.log"
    script = tmp_path / "program.py"
    script.write_text(
        "import os, sys\n"
        f"open({str(log)!r}, 'a').write(f'{{__name__}} {{os.getpid()}}\\n')\n"
        "if __name__ == '__main__':\n"
        f"    sys.path.insert(0, {str(ROOT)!r})\n"
        "    from collectors.offload import Offload\n"
        "    import asyncio\n"
        "    feed = b'<rss><channel><item><link>https://a.example/1</link></item></channel></rss>'\n"
        "    async def main(pool):\n"  # several at once: the pool starts its second process
        "        return await asyncio.gather(*(pool.prepare_feed(feed, {}, 'https://a.example/f')\n"
        "                                      for _ in range(8)))\n"
        "    with Offload(2) as pool:\n"
        "        prepared = asyncio.run(main(pool))\n"
        "    print(len(prepared[0].parsed.entries))\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "1"
    assert [line.split()[0] for line in log.read_text().splitlines()] == ["__main__"]


def test_a_pool_process_loads_the_parsers_but_not_the_event_loop() -> None:
    """A pool process imports `collectors.prepare`, not the pool's own module: no asyncio,
    httpx or SQLAlchemy in it (issue 18: its start is part of a pass)."""
    body = (CORPUS / "feeds" / FEEDS[0]).read_bytes()
    with Offload(1) as pool:
        assert asyncio.run(pool.prepare_feed(body, {}, BASE)).parsed.ok
        assert pool._pool is not None
        loaded = pool._pool.submit(
            eval, "[m for m in ('asyncio', 'httpx', 'sqlalchemy', 'collectors.feeds') "
                  "if m in __import__('sys').modules]").result()
    assert loaded == ["collectors.feeds"]
