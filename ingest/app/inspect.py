"""``kaohe inspect``: how the pipeline sees one ``.eml`` file, without writing anything.

The same analysis the pipeline uses (:mod:`ingest.match.analyse`), printed as
contract §8 JSON or as a readable Chinese summary.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from ingest.core.config import Config, LimitsConfig
from ingest.core.vocab import Outcome
from ingest.match.analyse import finish_message, prepare_message
from ingest.match.analysis_data import AnalysisContext
from ingest.match.roster import load_roster
from ingest.store.pipeline import campaign_routes, close_context, open_converter
from parsers.schema import DEFAULT_SCHEMAS


def inspect_file(path: Path, cfg: Config | None) -> dict[str, Any]:
    """Analyse *path*; with a config the roster is used for unit matching, and with
    several campaigns each attachment is routed to one as a poll would (its date window
    judged by the mail's own Date: a file on disk has no time of receipt)."""
    ctx = AnalysisContext(
        schemas=dict(cfg.schemas if cfg else DEFAULT_SCHEMAS),
        limits=cfg.limits if cfg else LimitsConfig(),
        roster=load_roster(cfg.paths.roster) if cfg else None,
        campaigns=campaign_routes(cfg) if cfg else (),
        converter=open_converter((cfg.limits if cfg else LimitsConfig()).convert_timeout_seconds),
    )
    try:
        prepared = prepare_message(path.read_bytes(), pool=ctx.pool)
        analysis = finish_message(prepared, replace(ctx, received=prepared.headers.date))
    finally:
        close_context(ctx)
    h = analysis.headers
    tz = cfg.campaign.timezone if cfg else None
    return {
        "message_id": h.message_id,
        "from": h.sender,
        "subject": h.subject,
        "date": (h.date.astimezone(tz) if tz and h.date else h.date).isoformat(timespec="seconds")
        if h.date
        else None,
        "attachments": [
            {
                "filename": a.filename,
                "size": a.size,
                "sha256": a.sha256,
                "type": a.type,
                "container": a.container,
                "annex": a.annex,
                "annex_evidence": a.annex_evidence or None,
                "unit": a.unit,
                "unit_evidence": a.unit_evidence or None,
                "rows": len(a.rows),
                "reason": a.reason,
                "outcome": str(a.outcome),
                **({"campaign": a.campaign} if ctx.campaigns else {}),
            }
            for a in analysis.attachments
        ],
        "_outcomes": [a.outcome for a in analysis.attachments],
        "_notes": [list(a.warnings) for a in analysis.attachments],
        "_defects": list(h.defects),
    }


TYPE_WORDS = {"text": "文本", "image": "图片", "other": "其他"}  # format names stay as they are


def render_inspection(result: dict[str, Any], fmt: str) -> str:
    outcomes = result.get("_outcomes", [])
    notes = result.get("_notes", [[] for _ in outcomes])
    defects = result.get("_defects", [])
    public = {k: v for k, v in result.items() if not k.startswith("_")}
    if fmt == "json":
        return json.dumps(public, ensure_ascii=False, indent=2) + "\n"
    lines = [
        f"发件人：{public['from']}",
        f"主题：{public['subject']}",
        f"发送时间：{public['date'] or '（无）'}",
        f"Message-ID：{public['message_id'] or '（无）'}",
    ]
    lines += [f"邮件格式问题：{d}" for d in defects]
    if not public["attachments"]:
        lines.append("没有附件。")
    rows = zip(public["attachments"], outcomes, notes, strict=True)
    for i, (a, outcome, note) in enumerate(rows, start=1):
        inside = _inside(a["container"])
        lines += [
            f"\n附件 {i}：{a['filename']}{inside}",
            f"  类型：{TYPE_WORDS.get(a['type'], a['type'])}，大小：{a['size']} 字节",
            f"  附件几：{a['annex'] or '未识别'}　依据：{a['annex_evidence'] or '无'}",
            f"  单位：{a['unit'] or '未识别'}　依据：{a['unit_evidence'] or '无'}",
            f"  读出数据行：{a['rows']}",
            *([f"  属于：{a['campaign'] or '无法判断是哪一次收集'}"] if "campaign" in a else []),
            f"  结果：{Outcome(outcome).label}" + (f"　原因：{a['reason']}" if a["reason"] else ""),
        ]
        lines += [f"  {n}" for n in note if n.startswith("下载链接：")]
    return "\n".join(lines) + "\n"


def _inside(container: str | None) -> str:
    if not container:
        return ""
    if container.lower().endswith(".eml"):
        return f"（来自转发的邮件 {container}）"
    return f"（来自压缩包 {container}）"
