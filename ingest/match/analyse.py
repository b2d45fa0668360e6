"""How the pipeline sees one message: unpack, expand, read, classify, identify, extract.

:func:`analyse_message` is pure (no database, no writes): the pipeline stores
its result, ``kaohe inspect`` prints it. Every attachment ends with an
``outcome`` and, unless it parsed, a ``reason`` a clerk can read. Failures
are contained per attachment: one bad file never stops the others.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace
from typing import Any

import parsers
from ingest.core.config import LimitsConfig
from ingest.core.vocab import Outcome
from ingest.mail.bigattach import find_big_attachments
from ingest.mail.forwarded import TOO_DEEP, Forwarded, describe, is_forwarded, open_forwarded
from ingest.mail.mime import Part, Unpacked, unpack
from ingest.match.analysis_data import (
    SCAN_KINDS,
    AnalysisContext,
    AttachmentAnalysis,
    MessageAnalysis,
    PreparedMessage,
    attachment_id,
)
from ingest.match.form_unit import wrong_unit_notes
from ingest.match.identify import UnitMatch, identify_unit
from ingest.match.roster import Roster
from ingest.match.route import choose_campaign
from ingest.match.sandbox import STOPPED
from ingest.match.untrusted import detect_and_read, detect_kind, expand_archive, read_document
from parsers.detect import contract_type
from parsers.errors import NoFormTable, ParseError
from parsers.model import AnnexGuess, Document, FormResult
from parsers.table import HeaderMemo
from parsers.template_check import template_diff

log = logging.getLogger(__name__)

ARCHIVE_KINDS = ("zip", "rar", "7z")
LINK_KIND = "link"  # a large-attachment link in the body: a file not received yet


def prepare_message(
    raw: bytes, digest: str | None = None, pool: Any = None, limits: LimitsConfig | None = None
) -> PreparedMessage:
    """Unpack *raw* and detect its parts' types (in the parse sandbox *pool*); forms that
    need no LibreOffice are read in the same job (one copy, one open of each file)."""
    digest = digest or hashlib.sha256(raw).hexdigest()
    return prepare_unpacked(unpack(raw), digest, pool, limits)


def prepare_unpacked(
    msg: Unpacked, digest: str, pool: Any = None, limits: LimitsConfig | None = None
) -> PreparedMessage:
    """:func:`prepare_message` of a message already unpacked: a caller that drops the raw
    bytes before the detection jobs run holds only the decoded parts while they read
    (a 36 MB mail with a 25 MB attachment: 36 MB less in the poller)."""
    prepared = PreparedMessage(digest, msg, [])
    cap = int(LimitsConfig().max_attachment_mb * 1024 * 1024) if limits is None else _cap(limits)
    for p in msg.parts:
        kind, doc = detect_and_read(p.payload, p.filename, cap, pool)
        prepared.kinds.append(kind)
        if doc is not None:
            prepared.read_ahead[p.path] = doc
    return prepared


def _cap(limits: LimitsConfig) -> int:
    return int(limits.max_attachment_mb * 1024 * 1024)


def finish_message(prepared: PreparedMessage, ctx: AnalysisContext) -> MessageAnalysis:
    """Read, classify and identify every part (legacy files converted in one batch)."""
    msg = prepared.headers
    ctx = replace(ctx, read_ahead=prepared.read_ahead)
    _prefetch(ctx, prepared.convertible)
    out: list[AttachmentAnalysis] = []
    for part, kind in zip(msg.parts, prepared.kinds, strict=True):
        out.extend(_analyse_part(prepared.digest, msg, part, None, ctx, depth=0, kind=kind))
    out.extend(_link_rows(prepared.digest, msg, "", None, ctx))
    return MessageAnalysis(prepared.digest, msg, out)


def analyse_message(raw: bytes, ctx: AnalysisContext) -> MessageAnalysis:
    """How the pipeline sees one message (pure: nothing is written)."""
    return finish_message(prepare_message(raw, pool=ctx.pool), ctx)


def prefetch_messages(prepared: list[PreparedMessage], ctx: AnalysisContext) -> None:
    """Convert the legacy attachments of several messages in one LibreOffice batch."""
    _prefetch(ctx, [item for p in prepared for item in p.convertible])


def _prefetch(ctx: AnalysisContext, items: list[tuple[bytes, str]]) -> None:
    """Pay LibreOffice's start-up once for all files that need converting."""
    wanted = [(d, k) for d, k in items if parsers.conversion_target(k)]
    if len(wanted) > 1 and ctx.converter is not None:
        ctx.converter.prefetch(wanted)


def kind_of(data: bytes, filename: str, pool: Any = None) -> str:
    """The detected type (in the parse sandbox); see :func:`untrusted.kind_in_process`."""
    return detect_kind(data, filename, pool)


def _new_attachment(
    digest: str, part: Part, kind: str, container: str | None
) -> AttachmentAnalysis:
    data = part.payload
    return AttachmentAnalysis(
        id=attachment_id(digest, part.path),
        part=part.path,
        filename=part.filename,
        container=container,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        type=contract_type(kind, part.filename),
        kind=kind,
        payload=data,
        inline=part.inline,
    )


def _analyse_part(
    digest: str,
    msg: Unpacked,
    part: Part,
    container: str | None,
    ctx: AnalysisContext,
    depth: int,
    kind: str | None = None,
) -> list[AttachmentAnalysis]:
    """One attachment (or archive member); archives only expand at the top level."""
    kind = kind or kind_of(part.payload, part.filename, ctx.pool)
    att = _new_attachment(digest, part, kind, container)
    try:
        if kind in ARCHIVE_KINDS and depth == 0 and not _too_big(att, ctx):
            return _expand(digest, msg, att, ctx, depth)
        if depth == 0 and is_forwarded(part, kind):
            return _forwarded(digest, att, open_forwarded(part, msg, ctx.limits), ctx)
        _read_and_extract(att, msg, ctx)
    except Exception:  # one attachment never takes down the message
        log.exception("attachment %s of %s failed", att.id, digest[:12])
        att.reason = "处理失败（程序内部错误，已记入日志），可在修复后重新解析"
        att.rows = []
    _decide(att, msg, ctx)
    return [att]


def _too_big(att: AttachmentAnalysis, ctx: AnalysisContext) -> bool:
    return att.size > ctx.limits.max_attachment_mb * 1024 * 1024


def _read_and_extract(att: AttachmentAnalysis, msg: Unpacked, ctx: AnalysisContext) -> None:
    doc: Document | None = None
    if att.size == 0:
        att.reason = "空文件（0 字节）"
    elif _too_big(att, ctx):
        att.reason = (
            f"附件过大（{att.size / 1048576:.1f} MB，上限 "
            f"{ctx.limits.max_attachment_mb:g} MB），未读取"
        )
    else:
        try:
            doc = _read(att, ctx)
        except ParseError as e:  # encrypted, scan only, damaged …: the reason says which
            att.reason = e.reason
    ctx = _routed(att, doc, msg, ctx)
    memo = HeaderMemo(doc) if doc is not None else None  # headers located once, reused
    guess = parsers.classify(doc, att.filename, msg.subject, ctx.schemas, memo)
    _apply_guess(att, guess)
    form = _extract(att, doc, ctx, memo) if doc is not None and att.annex else None
    if doc is not None and form is None and _supporting_document(att, doc, guess):
        att.annex = None
        att.reason = f"文件中没有附件{guess.annex}的表格（{guess.evidence}），作为说明材料存档"
    unit_line = (
        form.unit_line if form else (parsers.find_unit_line(_doc_lines(doc)) if doc else None)
    )
    att.form_unit = unit_line
    if ctx.roster is not None:
        _apply_unit(
            att,
            _identify(ctx.roster, unit_line, att.filename, msg),
        )
    elif unit_line:
        att.unit_evidence = f"表内单位：{unit_line}（未加载单位名单，无法匹配）"
    att.document = doc


def _read(att: AttachmentAnalysis, ctx: AnalysisContext) -> Document:
    """The part's Document: read ahead with its detection, else read now (in the sandbox)."""
    ahead = ctx.read_ahead.get(att.part) if att.container is None else None
    if isinstance(ahead, ParseError):
        raise ahead
    if isinstance(ahead, Document):
        return ahead
    return read_document(att.payload, att.kind, ctx.converter, ctx.pool)


def _routed(
    att: AttachmentAnalysis, doc: Document | None, msg: Unpacked, ctx: AnalysisContext
) -> AnalysisContext:
    """With several campaigns: the one this attachment belongs to, its annexes and roster."""
    if len(ctx.campaigns) < 2:
        return ctx
    decision = choose_campaign(ctx.campaigns, doc, att.filename, msg.subject, ctx.received)
    att.campaign = decision.name
    if decision.route is None:
        att.warnings.append(decision.evidence)
        return ctx
    return replace(ctx, schemas=dict(decision.route.schemas), roster=decision.route.roster)


def _supporting_document(att: AttachmentAnalysis, doc: Document, guess: AnnexGuess) -> bool:
    """A readable file with no form table whose name does not claim to be the form:
    a cover letter or supporting document sent with the forms, not a form itself."""
    if att.kind in SCAN_KINDS:
        return False  # a scan of the form counts as received
    return guess.source == "subject" or (not doc.tables and guess.source != "filename")


def _doc_lines(doc: Document) -> list[str]:
    lines = list(doc.lines)
    for t in doc.tables:
        lines.extend(t.before)
        lines.extend(" ".join(c for c in row if c) for row in t.rows[:3])
    return lines


def _apply_guess(att: AttachmentAnalysis, guess: AnnexGuess) -> None:
    att.annex = guess.annex
    att.annex_evidence = guess.evidence
    if guess.annex is None and guess.ambiguous:
        att.warnings.append("可能是附件" + "或附件".join(map(str, guess.ambiguous)))


def _apply_unit(att: AttachmentAnalysis, match: UnitMatch) -> None:
    att.unit = match.unit
    att.unit_evidence = match.evidence if match.unit else (match.reason or "")


def _extract(
    att: AttachmentAnalysis, doc: Document, ctx: AnalysisContext, memo: HeaderMemo | None = None
) -> FormResult | None:
    assert att.annex is not None
    memo = HeaderMemo.of(doc, memo)
    try:
        form = parsers.extract_form(doc, att.annex, ctx.schemas, memo)
    except NoFormTable as e:
        att.reason = e.reason
        att.rows = []
        return None
    att.rows = [dict(r) for r in form.rows]
    att.warnings.extend(form.warnings)
    att.warnings.extend(template_diff(doc, ctx.schemas[att.annex], memo).notes())
    if not att.rows:
        att.reason = "空白模板：表格中没有填写任何内容"
    else:
        att.reason = None
    return form


def _decide(att: AttachmentAnalysis, msg: Unpacked, ctx: AnalysisContext) -> None:
    """Settle the outcome: the clerk's decision first, then what the machine knows."""
    if _dismissed(att, ctx):
        return
    clerk = ctx.assignments.get(att.id)
    if clerk:
        _apply_clerk(att, clerk, ctx)
        att.campaign = att.campaign or _campaign_of_unit(att, ctx)
    if att.unit and att.annex and len(ctx.campaigns) > 1 and att.campaign is None:
        att.outcome = Outcome.UNASSIGNED
        routing = [w for w in att.warnings if "哪一次收集" in w]
        att.reason = routing[-1] if routing else "无法判断属于哪一次收集，请认领"
        return
    if att.unit and att.annex:
        att.warnings.extend(wrong_unit_notes(att.form_unit, att.unit, _roster_of(att, ctx)))
        att.outcome = Outcome.PARSED if att.rows else Outcome.UNPARSED
        if att.outcome is Outcome.UNPARSED and not att.reason:
            att.reason = "未读出数据行"
        return
    if att.annex is None and not att.warnings and _not_a_form(att):
        att.outcome = Outcome.IGNORED
        att.reason = att.reason or "不像本次的任何附件（文件名和内容都不像申报表），已存档"
        return
    att.outcome = Outcome.UNASSIGNED
    why = []
    if not att.unit:
        why.append(att.unit_evidence or "无法确定报送单位")
    if not att.annex:
        why.append("无法判断是附件几" + (f"（{att.warnings[-1]}）" if att.warnings else ""))
    if att.reason:
        why.append(att.reason)
    att.reason = "；".join(why)


def _roster_of(att: AttachmentAnalysis, ctx: AnalysisContext) -> Roster | None:
    """The roster of the attachment's campaign (of the only one, mostly)."""
    route = next((r for r in ctx.campaigns if r.name == att.campaign), None)
    return route.roster if route is not None else ctx.roster


def _campaign_of_unit(att: AttachmentAnalysis, ctx: AnalysisContext) -> str | None:
    """The clerk named the unit and annex: the one campaign whose roster and annexes have them."""
    fits = [
        r.name
        for r in ctx.campaigns
        if att.annex in r.schemas and r.roster and any(u.name == att.unit for u in r.roster.units)
    ]
    return fits[0] if len(fits) == 1 else None


def _dismissed(att: AttachmentAnalysis, ctx: AnalysisContext) -> bool:
    """The clerk took this attachment out of 待认领 (``kaohe dismiss``): it counts for nobody."""
    if att.id not in ctx.dismissals:
        return False
    why = ctx.dismissals[att.id]
    att.outcome = Outcome.DISMISSED
    att.reason = "已由文书排除" + (f"：{why}" if why else "")
    return True


def _not_a_form(att: AttachmentAnalysis) -> bool:
    """Files that are clearly not a declaration form (the annex guess found nothing)."""
    if att.kind == LINK_KIND:
        return False  # not received yet: it may well be a form
    if STOPPED in (att.reason or ""):
        return False  # a hostile or broken file: the clerk looks at it
    if att.kind == "image":
        return att.inline or att.size < 20_000
    return att.kind not in SCAN_KINDS or att.inline


def _apply_clerk(att: AttachmentAnalysis, clerk: dict[str, Any], ctx: AnalysisContext) -> None:
    att.unit = clerk["unit"]
    att.unit_evidence = f"人工认领：{clerk['unit']}"
    annex = clerk.get("annex")
    if annex and annex != att.annex:
        att.annex = int(annex)
        att.annex_evidence = f"人工指定：附件{annex}"
        att.rows, att.reason = [], None
        if att.document is not None:
            _extract(att, att.document, ctx)
        elif not att.reason:
            att.reason = "文件无法读取"


def _forwarded(
    digest: str, att: AttachmentAnalysis, fwd: Forwarded, ctx: AnalysisContext
) -> list[AttachmentAnalysis]:
    """A forwarded mail becomes an ``expanded`` row; its files (nested mails opened) follow,
    each identified with the help of the mail it sits in."""
    att.outcome, att.reason = Outcome.EXPANDED, describe(fwd.mail)
    out = [att, *_link_rows(digest, fwd.mail, att.part, att.filename, ctx)]
    for f in fwd.parts:
        kind = kind_of(f.part.payload, f.part.filename, ctx.pool)
        if f.opened is None and not f.too_deep:
            out.extend(_analyse_part(digest, f.mail, f.part, f.container, ctx, 0, kind))
            continue
        inner = _new_attachment(digest, f.part, kind, f.container)
        out.append(inner)
        if f.opened is not None:
            inner.outcome, inner.reason = Outcome.EXPANDED, describe(f.opened)
            out.extend(_link_rows(digest, f.opened, f.part.path, f.part.filename, ctx))
        elif not _dismissed(inner, ctx):
            inner.outcome, inner.reason = Outcome.UNASSIGNED, f"{TOO_DEEP}，请人工查看"
    return out


def _link_rows(
    digest: str, msg: Unpacked, prefix: str, container: str | None, ctx: AnalysisContext
) -> list[AttachmentAnalysis]:
    """One row per large-attachment link in the body (163 超大附件, QQ 文件中转站):
    the file was not attached, so the unit's row says what to download, never nothing."""
    rows = []
    for i, link in enumerate(find_big_attachments(msg.body_html, msg.body_text), start=1):
        path = f"{prefix}/link-{i}" if prefix else f"link-{i}"
        part = Part(path, link.filename, "text/uri-list", b"", False)
        att = _new_attachment(digest, part, LINK_KIND, container)
        att.reason = link.reason
        _apply_guess(att, parsers.classify(None, link.filename, msg.subject, ctx.schemas))
        if ctx.roster is not None:
            _apply_unit(att, _identify(ctx.roster, None, link.filename, msg))
        _decide(att, msg, ctx)
        if link.url:  # shown by inspect and kept with the row; not part of the reason
            att.warnings.append(f"下载链接：{link.url}")
        rows.append(att)
    return rows


def _identify(roster: Roster, unit_line: str | None, filename: str, msg: Unpacked) -> UnitMatch:
    return identify_unit(
        roster,
        unit_line=unit_line,
        filename=filename,
        subject=msg.subject,
        sender=msg.sender,
        body=msg.body_text,
        forwarded_by=msg.forwarded_by,
    )


def _expand(
    digest: str, msg: Unpacked, att: AttachmentAnalysis, ctx: AnalysisContext, depth: int
) -> list[AttachmentAnalysis]:
    """An archive becomes an ``expanded`` row; its members (nested ones flattened) follow."""
    result = expand_archive(att.payload, att.kind, att.filename, ctx.limits, depth, ctx.pool)
    files = [m for m in result.members if not m.expanded]
    att.outcome = Outcome.EXPANDED
    att.reason = "；".join(
        [f"压缩包，解出 {len(files)} 个文件"] + [f"{r.path}：{r.reason}" for r in result.refusals]
    )
    if not files and result.refusals:
        att.outcome = Outcome.UNASSIGNED
        att.annex_evidence = parsers.classify(None, att.filename, msg.subject, ctx.schemas).evidence
        _dismissed(att, ctx)
    out = [att]
    _prefetch(ctx, [(m.payload, m.kind) for m in files])
    for i, member in enumerate(result.members, start=1):
        part = Part(
            path=f"{att.part}/{i}",
            filename=member.filename,
            content_type="application/octet-stream",
            payload=member.payload,
            inline=False,
        )
        if member.expanded:
            inner = _new_attachment(digest, part, member.kind, member.container)
            inner.outcome, inner.reason = Outcome.EXPANDED, "压缩包内的压缩包，已解开"
            out.append(inner)
        else:
            out.extend(
                _analyse_part(digest, msg, part, member.container, ctx, depth + 1, kind=member.kind)
            )
    return out
