"""Large attachments are decoded straight from the raw bytes (bounded memory), exactly."""

from __future__ import annotations

import base64
import os

import pytest

from ingest.mail.mime import unpack
from ingest.mail.mime_raw import SPOOL_MIN_MESSAGE, spool_large_bodies
from tests.support.mails import Att, attachment_part, make_mail, multipart, text_part, top_headers

HEADERS = top_headers(
    sender="a@qq.com",
    sender_name="",
    subject="转发",
    subject_charset="gbk",
    message_id=None,
    date=None,
)
BIG = os.urandom(6 * 1024 * 1024 + 5)  # not a multiple of 3: the last line is short and padded


@pytest.mark.parametrize("linesep", [b"\r\n", b"\n"])
def test_big_attachment_decodes_exactly_through_the_spool(linesep: bytes) -> None:
    raw = make_mail(attachments=[("附件4.xlsx", BIG), ("小.txt", b"hello")])
    if linesep == b"\n":
        raw = raw.replace(b"\r\n", b"\n")
    spool = spool_large_bodies(raw)
    assert spool is not None and len(spool.reduced) < 10_000  # the email parser sees ~nothing
    msg = unpack(raw)
    assert [p.filename for p in msg.parts] == ["附件4.xlsx", "小.txt"]
    assert msg.parts[0].payload == BIG
    assert msg.parts[1].payload == b"hello"
    assert msg.defects == []


def test_a_big_attachment_is_held_once_while_it_is_decoded() -> None:
    import tracemalloc

    raw = make_mail(attachments=[("附件4.xlsx", BIG)])
    tracemalloc.start()
    try:
        msg = unpack(raw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert msg.parts[0].payload == BIG
    # the decoded bytes, plus a2b_base64's slack (¾ of the base64 text, trimmed after):
    # a second copy (a join with the empty decode of the line break after the run) fails
    assert peak < len(BIG) * 1.5


def test_small_messages_are_not_spooled() -> None:
    raw = make_mail(attachments=[("a.xlsx", os.urandom(SPOOL_MIN_MESSAGE // 2))])
    assert len(raw) < SPOOL_MIN_MESSAGE and spool_large_bodies(raw) is None
    # just past the threshold, a run of base64 lines is cut out
    data = os.urandom(SPOOL_MIN_MESSAGE)
    raw = make_mail(attachments=[("a.xlsx", data)])
    spool = spool_large_bodies(raw)
    assert spool is not None and len(spool.reduced) < len(raw) // 4
    assert unpack(raw).parts[0].payload == data


@pytest.mark.parametrize("line_len", [60, 64, 72, 74, 76])
@pytest.mark.parametrize("size", [90_000, 400_003])
def test_every_line_length_decodes_exactly(line_len: int, size: int) -> None:
    """Clients wrap base64 at different widths (74 is not a multiple of 4)."""
    data = os.urandom(size)
    text = base64.b64encode(data)
    body = b"\r\n".join(text[i : i + line_len] for i in range(0, len(text), line_len)) + b"\r\n"
    part = (
        b'Content-Type: application/octet-stream; name="a.bin"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + body
    )
    raw = multipart("mixed", text_part("见附件"), part, headers=HEADERS)
    assert spool_large_bodies(raw) is not None
    [got] = unpack(raw).parts
    assert got.payload == data


def test_attached_mail_with_big_attachment_is_restored_byte_for_byte() -> None:
    inner = make_mail(subject="原始邮件", attachments=[("附件6.docx", BIG)])
    outer = multipart(
        "mixed",
        text_part("转发"),
        attachment_part(
            Att("原邮件.eml", inner, content_type="message/rfc822", cte="8bit"), "rfc2231"
        ),
        headers=HEADERS,
    )
    parts = unpack(outer).parts
    assert parts[0].filename == "原邮件.eml"
    assert parts[0].payload.replace(b"\r\n", b"\n") == inner.replace(b"\r\n", b"\n")


def test_base64_looking_text_body_is_kept_as_text() -> None:
    lines = base64.encodebytes(BIG).replace(b"\n", b"\r\n")
    raw = multipart(
        "mixed",
        text_part("见附件"),
        attachment_part(Att("data.txt", lines, content_type="text/plain", cte="7bit"), "rfc2231"),
        headers=HEADERS,
    )
    [part] = unpack(raw).parts
    assert part.payload.replace(b"\r\n", b"\n") == lines.replace(b"\r\n", b"\n")


def _runs_by_regex(raw: bytes) -> list[tuple[int, int]]:
    """The runs as the first version found them (a regex class search): the oracle."""
    import re

    from ingest.mail import mime_raw

    not_b64 = re.compile(rb"[^A-Za-z0-9+/\r\n]")
    runs: list[tuple[int, int]] = []
    pos, size = 0, len(raw)
    while pos < size:
        while pos < size and raw[pos] in b"\r\n":
            pos += 1
        found = not_b64.search(raw, pos)
        stop = found.start() if found else size
        end = raw.rfind(b"\n", pos, stop) + 1
        if end > pos and raw.count(b"\n", pos, end) >= mime_raw._MIN_RUN_LINES:
            tail = mime_raw._B64_LAST.match(raw, end)
            runs.append((pos, tail.end() if tail else end))
            pos = runs[-1][1]
            continue
        nl = raw.find(b"\n", stop)
        pos = size if nl < 0 else nl + 1
    return runs


@pytest.mark.parametrize("seed", range(12))
def test_base64_runs_are_found_where_the_regex_found_them(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The byte scan (translate + find, window by window) agrees with a regex scan on
    messages mixing long and short base64 runs, text, 8-bit bytes and window edges."""
    import random

    from ingest.mail import mime_raw

    monkeypatch.setattr(mime_raw, "_SCAN_WINDOW", 997)  # many window edges, odd-sized
    rng = random.Random(seed)
    pieces = []
    for _ in range(rng.randint(3, 12)):
        kind = rng.choice(["b64", "b64", "text", "bytes", "blank"])
        if kind == "b64":
            text = base64.b64encode(rng.randbytes(rng.randint(10, 9000)))
            width = rng.choice([60, 64, 76])
            eol = rng.choice([b"\r\n", b"\n"])
            pieces.append(eol.join(text[i : i + width] for i in range(0, len(text), width)) + eol)
        elif kind == "text":
            pieces.append(
                "说明：请查收。 Content-Type: text/plain\r\n".encode() * rng.randint(1, 5)
            )
        elif kind == "bytes":
            pieces.append(rng.randbytes(rng.randint(1, 300)) + b"\n")
        else:
            pieces.append(b"\r\n")
    raw = b"".join(pieces)
    assert mime_raw._base64_runs(raw) == _runs_by_regex(raw)
    # the finder itself, from every position (forward, then jumping back and forth)
    import re

    others = {m.start() for m in re.finditer(rb"[^A-Za-z0-9+/\r\n]", raw)}
    expected = [len(raw)] * (len(raw) + 1)
    for p in range(len(raw) - 1, -1, -1):
        expected[p] = p if p in others else expected[p + 1]
    scan = mime_raw._Scan(raw)
    assert [scan.next_other(p) for p in range(len(raw))] == expected[:-1]
    jumps = [rng.randrange(len(raw)) for _ in range(200)]
    assert [scan.next_other(p) for p in jumps] == [expected[p] for p in jumps]


def test_the_clean_base64_check_is_the_regex_it_replaced() -> None:
    """``_clean_base64`` (translate) says what ``[A-Za-z0-9+/\\s]*={0,2}\\s*`` said."""
    import random
    import re

    from ingest.mail.mime_raw import _clean_base64

    regex = re.compile(rb"[A-Za-z0-9+/\s]*={0,2}\s*")
    alphabet = b"Ab9+/= \t\r\n\x0b\x0c-*\x00\xff"
    rng = random.Random(20261204)
    samples = [bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(20000)]
    assert [_clean_base64(d) for d in samples] == [bool(regex.fullmatch(d)) for d in samples]
    assert sum(map(_clean_base64, samples)) > 100  # both answers occur
