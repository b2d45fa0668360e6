"""A whole message analysed in one parse-sandbox job: the fast path of a poll.

The per-form path (:func:`~ingest.match.analyse.prepare_message` and
:func:`~ingest.match.analyse.finish_message` in the poller, each attachment's
bytes sent to a sandbox worker) contains every fault to its attachment, but
keeps MIME parsing, classification and identification in the poller, under
one GIL: on a 2-core machine the poller, not the readers, was the bottleneck.

:func:`analyse_in_worker` runs the same two functions inside a sandbox worker,
with the worker itself as the "pool" (:class:`InProcess`): the poller only
fetches, archives and commits, and the workers analyse whole messages in
parallel. The answer is the same object the per-form path builds.

Containment is kept by falling back, never by guessing: anything that would
have stopped a per-form job (a memory or recursion limit, a reader's crash, the
job's time limit) or any bug ends the whole job, and the poller analyses that
message again on the per-form path, which gives each attachment its own worker
job and its own recorded reason. A message with old Office files returns after
unpacking and reading what needs no LibreOffice (:attr:`JobAnswer.prepared`):
the poller converts them in one LibreOffice run for its batch, as before.

Given the data folder, the job also stores there the attachments' files the raw
mail does not hold as they are (archive members: :func:`store_files`, which the
poller uses too) and answers without any file's bytes: the decoded files (16 of
the 18 MB that 300 bench mails answered with) no longer cross the pipe and are not
unpickled under the poller's GIL. A file it cannot write (disk full) leaves the
bytes in the answer, for the poller to write (and fail on) as before.

The cycle's static context (schemas, roster, campaigns, limits) is pickled once
per poll (:class:`SharedContext`) and unpickled once per worker. Warnings the job
logs (a part that failed, with its traceback) travel back with the answer and are
logged by the poller (:func:`relog`), as they would be on the per-form path.
"""

from __future__ import annotations

import logging
import pickle
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from ingest.mail.mime import Unpacked
from ingest.mail.rawstore import archive_file
from ingest.match.analysis_data import (
    AnalysisContext,
    AttachmentAnalysis,
    MessageAnalysis,
    PreparedMessage,
)

log = logging.getLogger(__name__)

LIBREOFFICE = "LibreOffice"  # an archive member needs converting
MAX_MESSAGE_BYTES = 8 * 1024 * 1024  # larger messages take the per-form path (memory, RSS)


class Escalate(BaseException):
    """Raised inside a mail job where a per-form job would have been stopped.

    A BaseException, so the analysis' own ``except Exception`` (which records a
    bug against one attachment) cannot swallow it: the worker answers "abort"
    and the poller falls back to the per-form path.
    """


class InProcess:
    """The parse "pool" inside a worker: jobs run in the worker itself."""

    size = 1

    def call(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except (MemoryError, RecursionError) as e:
            raise Escalate(type(e).__name__) from None


class NoConverter:
    """LibreOffice is the poller's (one run per batch): a member that needs it escalates."""

    def prefetch(self, items: list[tuple[bytes, str]]) -> None:
        raise Escalate(LIBREOFFICE)

    def convert(self, data: bytes, kind: str) -> bytes:
        raise Escalate(LIBREOFFICE)

    def convert_many(self, items: list[tuple[bytes, str]]) -> list[Any]:
        raise Escalate(LIBREOFFICE)


@dataclass(frozen=True)
class SharedContext:
    """A cycle's static analysis context, pickled once; *token* names it in the workers.

    With *folder* (the pool's scratch folder) the pickle is also written there once, and
    :attr:`ref` (what each job carries) is that file's path: a worker reads it on its
    first job of the cycle only. Sent with every job, a province's roster (~1 MB) would
    cross the pipe, be copied and be unpickled once per mail.
    """

    token: str
    blob: bytes
    path: str | None = None

    @property
    def ref(self) -> bytes | str:
        """What a job passes to :func:`analyse_in_worker`: the file's path, else the blob."""
        return self.path if self.path is not None else self.blob

    @classmethod
    def of(cls, ctx: AnalysisContext, folder: Path | None = None) -> SharedContext:
        static = replace(
            ctx,
            pool=None,
            converter=None,
            assignments={},
            dismissals={},
            received=None,
            read_ahead={},
        )
        token = uuid.uuid4().hex
        blob = pickle.dumps(static, protocol=pickle.HIGHEST_PROTOCOL)
        if folder is None:
            return cls(token, blob)
        path = folder / f"context-{token}.pickle"
        path.write_bytes(blob)  # removed with the pool's scratch folder
        return cls(token, blob, str(path))


@dataclass
class JobAnswer:
    """A mail job's answer: the unpacked message and, unless LibreOffice is needed, its
    analysis; or neither and why the poller must take the per-form path."""

    prepared: PreparedMessage | None
    analysis: MessageAnalysis | None
    fallback: str | None = None
    logs: list[tuple[str, int, str]] = field(default_factory=list)  # (logger, level, text)
    written: frozenset[str] = frozenset()  # attachment digests the job stored (bytes dropped)


class _Collect(logging.Handler):
    """The job's warnings (a part that failed, with its traceback), for the poller's log:
    the worker's own stderr is only logged at DEBUG."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.records.append((record.name, record.levelno, text))


def relog(logs: list[tuple[str, int, str]]) -> None:
    """In the poller: log a job's collected records as if they had happened here."""
    for name, level, text in logs:
        logging.getLogger(name).log(level, "%s", text)


_contexts: dict[str, AnalysisContext] = {}  # in the worker: the current cycle's context


def analyse_in_worker(
    token: str,
    context: bytes | str,
    raw: bytes | Unpacked,
    digest: str,
    assignments: dict[str, dict[str, Any]],
    dismissals: dict[str, str],
    received: datetime | None,
    data_dir: str | None = None,
) -> JobAnswer:
    """Runs in a sandbox worker: unpack, read, classify and identify one message.

    *context*: the cycle's :class:`SharedContext` (its ``ref``): the pickle, or the path
    of its file, read on the worker's first job of the cycle; *token* names it after.
    *raw*: the message's bytes, or the message already unpacked by the poller (which
    has a core to spare when the pool has one worker; see ``ingest.store.intake``).
    *data_dir*: store the attachments' files there and answer without their bytes."""
    # imported here: the poller imports this module for its types, the analysis it
    # leaves to the workers (which import it before their first job, sandbox_worker)
    from ingest.match.analyse import finish_message, prepare_message, prepare_unpacked

    ctx = _contexts.get(token)
    if ctx is None:
        _contexts.clear()  # one cycle at a time
        pickled = context if isinstance(context, bytes) else Path(context).read_bytes()
        static = pickle.loads(pickled)
        ctx = replace(static, pool=InProcess(), converter=NoConverter())
        _contexts[token] = ctx
    collect = _Collect()
    root = logging.getLogger()
    root.addHandler(collect)
    try:
        prepared = (
            prepare_unpacked(raw, digest, ctx.pool, ctx.limits)
            if isinstance(raw, Unpacked)
            else prepare_message(raw, digest, ctx.pool, ctx.limits)
        )
        if prepared.convertible:
            return JobAnswer(prepared, None, logs=collect.records)
        own = replace(ctx, assignments=assignments, dismissals=dismissals, received=received)
        answer = JobAnswer(prepared, finish_message(prepared, own), logs=collect.records)
        if data_dir is not None:
            _store_and_strip(answer, Path(data_dir))
        return answer
    except Escalate as e:
        if str(e) != LIBREOFFICE:
            raise  # a limit: the worker answers "abort" and is restarted
        return JobAnswer(None, None, fallback=LIBREOFFICE)  # the worker itself is fine
    finally:
        root.removeHandler(collect)


def store_files(
    data_dir: Path, attachments: Iterable[AttachmentAnalysis], done: frozenset[str] = frozenset()
) -> frozenset[str]:
    """Write the files the raw archive does not hold (members of archives and forwarded
    mails; see :attr:`AttachmentAnalysis.in_raw`), but none in *done*; returns every
    attachment's digest: each is now stored or held by its raw mail."""
    attachments = list(attachments)
    written = set(done)
    for a in attachments:
        if not a.in_raw and a.sha256 not in written:
            archive_file(data_dir, a.payload, a.sha256)
            written.add(a.sha256)
    return frozenset(written.union(a.sha256 for a in attachments))


def _store_and_strip(answer: JobAnswer, data_dir: Path) -> None:
    """Write the analysed attachments' files and drop every byte the poller no longer needs
    (payloads, documents read ahead) from *answer*; on OSError keep them for the poller."""
    assert answer.prepared is not None and answer.analysis is not None
    attachments = answer.analysis.attachments
    try:
        answer.written = store_files(data_dir, attachments)
    except OSError as e:  # the poller writes them, and stops the poll if it cannot either
        log.debug("attachment files left to the poller: %s", e)  # its own write says why
        return
    for a in attachments:
        a.payload, a.document = b"", None
    headers = answer.prepared.headers
    bare = replace(headers, parts=[replace(p, payload=b"") for p in headers.parts])
    answer.prepared = replace(answer.prepared, headers=bare, read_ahead={})
    answer.analysis.headers = bare
