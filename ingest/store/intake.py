"""A poll's mail in flight: analysed in parallel, committed in fetch order, in batches.

Each fetched item goes to one of the intake threads (three per worker of the
parse sandbox: the next mails wait in each worker's pipe) that archives the raw
bytes (made durable per batch, below) and has a worker unpack the message,
detect, read and analyse its forms and store the attachments' files the raw mail
does not hold (archive members; see :mod:`ingest.store.files`), answering without
any file's bytes; meanwhile the main thread fetches the next bodies.
Finished items are committed strictly in fetch order, many per transaction:

- a batch holds at most :data:`BATCH_MAILS` mails; it is committed once its
  oldest mail has waited :data:`BATCH_SECONDS` (checked as mail arrives and
  finishes) or when the fetch ends, so a slow server never holds finished mail
  uncommitted for long;
- the raw files of a batch are written whole (temp file, rename) by the
  threads and made durable together (one ``syncfs``) before its transaction;
- the cursor moves in the batch's transaction, past its last mail only: a
  crash mid-batch rolls back the whole batch, whose mails are fetched again
  (their raw files, already durable, map to the same hash) — nothing is lost
  and nothing doubled;
- mails with old Office files are finished on the main thread before their
  batch's transaction, their files converted in one LibreOffice run (old files
  found inside archives are converted by the threads, one at a time);
- when a batch's transaction fails, its mails are committed one per
  transaction up to the failing one, which stops the poll as before.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, fields, replace
from typing import Any

from ingest.core.config import Config
from ingest.mail.mime import Unpacked, unpack
from ingest.mail.rawstore import archive_raw, make_durable, sha256
from ingest.mail.sources.base import MailSource, SourceItem
from ingest.match.analysis_data import AnalysisContext
from ingest.match.mailjob import (
    MAX_MESSAGE_BYTES,
    SharedContext,
    analyse_in_worker,
    relog,
    store_files,
)
from ingest.match.sandbox import PayloadFile
from ingest.store import db as dbm
from ingest.store import pipeline as pl
from ingest.store.handle import Db

log = logging.getLogger(__name__)

BATCH_MAILS = 50  # mails per transaction at most
BATCH_SECONDS = 2.0  # finished mail waits at most this long for its batch
IN_FLIGHT_BYTES = 32 * 1024 * 1024  # raw bytes fetched but not committed, beyond one mail


@dataclass
class _Flight:
    item: SourceItem
    future: Future[pl.Taken]
    since: float


@dataclass(frozen=True)
class _Prior:
    """What the database knows of a message, read on the main thread before analysis."""

    digest: str
    known: dict[str, Any] | None
    assignments: dict[str, dict[str, Any]]
    dismissals: dict[str, str]


class Intake:
    """Items in, committed in fetch order (see the module docstring); a context manager."""

    def __init__(
        self,
        db: Db,
        cfg: Config,
        ctx: AnalysisContext,
        src: MailSource,
        summary: pl.PollSummary,
        on_item: Callable[[SourceItem], None] | None = None,
    ) -> None:
        if ctx.converter is not None:  # archive members may need LibreOffice in a thread
            ctx = replace(ctx, converter=_Serialised(ctx.converter))
        self.db, self.cfg, self.ctx, self.src = db, cfg, ctx, src
        self.summary, self.on_item = summary, on_item
        # one thread per job the pool takes at once: the next mail waits in each worker's
        # pipe while it reads the current one (see ingest.match.sandbox._Worker)
        threads = ctx.pool.slots if ctx.pool is not None else 1
        # whole messages are analysed in the sandbox workers (ingest.match.mailjob); the
        # cycle's context waits for them in the pool's scratch folder
        self.shared = SharedContext.of(ctx, ctx.pool.scratch) if ctx.pool is not None else None
        self._threads = ThreadPoolExecutor(threads, thread_name_prefix="intake")
        self._flights: deque[_Flight] = deque()
        self._bytes = 0
        self.max_in_flight = BATCH_MAILS + 2 * threads

    def add(self, item: SourceItem) -> None:
        """Start analysing *item* in a thread, which takes its raw bytes: the caller drops
        *item*, then calls :meth:`wait_room` (a large mail is held by the thread alone,
        which lets it go once unpacked)."""
        self.summary.fetched += 1
        if self.summary.fetched == 1 and self.shared is not None and self.ctx.pool is not None:
            if item.raw is not None and len(item.raw) <= MAX_MESSAGE_BYTES:
                # mail jobs are coming: the other workers are forked from the first, which
                # has run none yet (one large mail alone keeps to one worker and its RSS)
                self.ctx.pool.fork_others()
        prior = self._prior(item)
        box = [item.raw]  # emptied by _take: the executor's job keeps no reference
        item = replace(item, raw=b"") if item.raw is not None else item
        future = self._threads.submit(_take, self.cfg, self.ctx, item, box, prior, self.shared)
        self._flights.append(_Flight(item, future, time.monotonic()))
        self._bytes += item.size

    def wait_room(self) -> None:
        """Wait while too much is in flight, and commit whatever batch is due."""
        while self._flights and (
            len(self._flights) >= self.max_in_flight or self._bytes > IN_FLIGHT_BYTES
        ):
            # wait for the oldest half batch, not one mail: one syncfs and one transaction
            # per mail in the steady state cost more than the fetch itself
            for f in list(self._flights)[: BATCH_MAILS // 2]:
                f.future.exception()
            self._commit(self._ready())
        self._commit_due()

    def finish(self) -> None:
        """Wait for every item in hand and commit them all."""
        while self._flights:
            batch = list(self._flights)[:BATCH_MAILS]  # a whole batch: one LibreOffice run
            for f in batch:
                f.future.exception()  # wait; a raised error surfaces at commit
            if len(batch) == len(self._flights) and self.ctx.pool is not None:
                if not any(_needs_pool(f.future) for f in batch):
                    self.ctx.pool.release()  # the workers exit while the last batch commits
            self._commit(self._ready())

    def close(self) -> None:
        """Stop the threads; items not committed are fetched again by the next poll."""
        for f in self._flights:
            f.future.cancel()
        self._threads.shutdown(wait=True)

    def __enter__(self) -> Intake:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ internals

    def _prior(self, item: SourceItem) -> _Prior | None:
        if item.raw is None:
            return None
        digest = sha256(item.raw)
        known = dbm.get_message(self.db, digest)
        if known is None:
            return _Prior(digest, None, {}, {})
        return _Prior(
            digest, known, dbm.assignments_for(self.db, digest), dbm.dismissals_for(self.db, digest)
        )

    def _ready(self) -> int:
        """How many items at the head have finished (at most one batch)."""
        n = 0
        for f in self._flights:
            if n == BATCH_MAILS or not f.future.done():
                break
            n += 1
        return n

    def _commit_due(self) -> None:
        while self._flights:
            ready = self._ready()
            old = time.monotonic() - self._flights[0].since >= BATCH_SECONDS
            if ready == 0 or (ready < BATCH_MAILS and not old):
                return
            self._commit(ready)

    def _commit(self, n: int) -> None:
        """Commit the first *n* items in one transaction (the cursor past the last)."""
        if n == 0:
            return
        batch = [f.future.result() for f in list(self._flights)[:n]]  # re-raises a failed archive
        make_durable(
            self.cfg.data_dir, [self.cfg.data_dir / t.raw_path for t in batch if t.raw_path]
        )
        self._finish_legacy(batch)
        before = replace(self.summary, attachments=dict(self.summary.attachments))
        try:
            with dbm.transaction(self.db):
                for taken in batch:
                    self._commit_one(taken)
        except Exception:
            if n == 1:
                raise
            _restore(self.summary, before)
            for taken in batch:  # one by one: the mails before a failing one are kept
                self._commit_one(taken)
                self._done()
            return
        for _ in range(n):
            self._done()

    def _done(self) -> None:
        """The oldest item is committed: the source's post-action, the caller's callback."""
        flight = self._flights.popleft()
        self._bytes -= flight.item.size
        self.src.mark_done(flight.item)
        if self.on_item is not None:
            self.on_item(flight.item)

    def _commit_one(self, taken: pl.Taken) -> None:
        if taken.digest is not None:  # a copy earlier in this poll may be committed by now
            taken.known = dbm.get_message(self.db, taken.digest) or taken.known
        pl.commit_item(self.db, self.cfg, self.ctx, taken, self.summary)

    def _finish_legacy(self, batch: list[pl.Taken]) -> None:
        """Mails with old Office files: one LibreOffice run for the batch, then analysis."""
        waiting = [t for t in batch if t.awaits_analysis]
        if not waiting:
            return
        from ingest.match.analyse import prefetch_messages

        prefetch_messages([t.prepared for t in waiting if t.prepared], self.ctx)
        for taken in waiting:
            assert taken.prepared is not None
            try:
                taken.analysis = pl._analyse(
                    self.db, self.ctx, taken.prepared, dbm.to_db(taken.item.received)
                )
            except Exception as e:  # recorded; reparse can retry once fixed
                taken.error = pl._analysis_failed(taken.prepared.digest, e)


def _needs_pool(future: Future[pl.Taken]) -> bool:
    """Does committing this item still read with the sandbox (old Office files)?"""
    if future.exception() is not None:
        return False
    return future.result().awaits_analysis


def _take(
    cfg: Config,
    ctx: AnalysisContext,
    item: SourceItem,
    box: list[bytes | None],
    prior: _Prior | None,
    shared: SharedContext | None = None,
) -> pl.Taken:
    """In a thread: archive, then unpack, read and (unless LibreOffice is needed) analyse —
    in one sandbox job when *shared* is given, else (or when that job fails) per form."""
    raw = box.pop()
    if raw is None or prior is None:
        return pl.Taken(item)
    # made durable per batch; the digest is _prior's, of these very bytes
    _, path = archive_raw(cfg.data_dir, raw, durable=False, digest=prior.digest)
    taken = pl.Taken(item, prior.digest, path.relative_to(cfg.data_dir).as_posix(), prior.known)
    received = dbm.to_db(item.received)
    if prior.known is not None and received >= prior.known["received"]:
        return taken
    small = len(raw) <= MAX_MESSAGE_BYTES  # a larger mail's files never cross a pipe
    # the mail job gets the archived file's path, or (one worker) the mail unpacked here
    msg = unpack(raw) if small and shared is not None and _unpack_here(ctx) else None
    job = PayloadFile(str(path), len(raw)) if msg is None else msg
    whole = (
        small and shared is not None and _in_worker(cfg, ctx, shared, taken, prior, job, received)
    )
    if not whole:  # unpacked here, one sandbox job per attachment
        # imported here only (see ingest.store.pipeline)
        from ingest.match.analyse import finish_message, prepare_unpacked

        try:
            msg = unpack(raw) if msg is None else msg
            del raw  # the parts are decoded; the raw mail is on disk, not needed here
            taken.prepared = prepare_unpacked(msg, prior.digest, ctx.pool, ctx.limits)
            if not taken.prepared.convertible:  # else the batch's LibreOffice run first
                own = replace(
                    ctx,
                    assignments=prior.assignments,
                    dismissals=prior.dismissals,
                    received=dbm.from_db(received),
                )
                taken.analysis = finish_message(taken.prepared, own)
        except Exception as e:  # a bug must not block the mailbox: the raw mail is safe
            taken.error = pl._analysis_failed(prior.digest, e)
    if taken.analysis is not None and not taken.files_written:  # the job did not store them:
        # here, in parallel, rather than in the commit; an OSError (disk full) stops the poll
        taken.files_written = store_files(cfg.data_dir, taken.analysis.attachments)
    return taken


def _unpack_here(ctx: AnalysisContext) -> bool:
    """Does the intake thread unpack the mail (MIME parse and decoding) for its mail job?

    With one worker, that worker is a cold poll's bottleneck while the poller has a core
    to itself: the poller unpacks (~0.6 ms of CPU a mail) and sends the decoded parts
    instead of the archived file's path (cold 300 mails, paired: −0.04 s). With two or
    more the poller is the busier side and the workers unpack. (The per-form path, the
    fallback for a mail job that fails, unpacks in the poller too.)
    """
    return ctx.pool is not None and ctx.pool.size == 1


def _in_worker(
    cfg: Config,
    ctx: AnalysisContext,
    shared: SharedContext,
    taken: pl.Taken,
    prior: _Prior,
    job: PayloadFile | Unpacked,
    received: str,
) -> bool:
    """The mail job (:mod:`ingest.match.mailjob`); False: take the per-form path."""
    try:
        out = ctx.pool.call(
            analyse_in_worker,
            shared.token,
            shared.ref,
            job,
            prior.digest,
            prior.assignments,
            prior.dismissals,
            dbm.from_db(received),
            os.path.abspath(cfg.data_dir),  # the job stores the files; answers without bytes
        )
    except Exception as e:  # stopped by a limit, or a bug: per form, each fault contained
        log.info("message %s: analysed per attachment (%s)", prior.digest[:12], e)
        return False
    relog(out.logs)
    if out.prepared is None:
        log.debug("message %s: analysed per attachment (%s)", prior.digest[:12], out.fallback)
        return False
    taken.prepared, taken.analysis = out.prepared, out.analysis
    taken.files_written = out.written
    return True


class _Serialised:
    """The cycle's LibreOffice converter, one call at a time (it has one profile)."""

    def __init__(self, converter: Any) -> None:
        self._converter = converter
        self._lock = threading.Lock()

    def prefetch(self, items: list[tuple[bytes, str]]) -> None:
        with self._lock:
            self._converter.prefetch(items)

    def convert(self, data: bytes, kind: str) -> bytes:
        with self._lock:
            return bytes(self._converter.convert(data, kind))

    def convert_many(self, items: list[tuple[bytes, str]]) -> list[Any]:
        with self._lock:
            return list(self._converter.convert_many(items))


def _restore(summary: pl.PollSummary, before: pl.PollSummary) -> None:
    for f in fields(summary):
        setattr(summary, f.name, getattr(before, f.name))
