"""Which annex is this attachment? Content first, then file name, then subject.

Content means the form's own title lines (or a literal ``附件4`` at the top) and
then its header signature: each annex scores the header cells only it knows
(统计口径 → 2, 考核内容 → 3) before the count of mapped fields. Two equally
good candidates are reported as ambiguous, never guessed (beangulp's rule).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from parsers.model import AnnexGuess, Document
from parsers.schema import AnnexSchema, map_header, normalise_header
from parsers.table import HeaderMemo

__all__ = ["classify"]

_NUMERALS = dict(zip("一二三四五六七八九十", range(1, 11), strict=True))
# any number: the campaign's schemas say which annexes exist
_ANNEX_NO = re.compile(r"附件?([0-9]{1,2}|[一二三四五六七八九十])(?![0-9])")
_TOP_ANNEX_NO = re.compile(r"^附件([0-9]{1,2}|[一二三四五六七八九十])(?![0-9])")
_TITLE_MAX = 80  # a longer line is body text, not a title
_SPACE = re.compile(r"\s+")
_LINES_PER_SOURCE = 8


@dataclass(frozen=True)
class _Vote:
    """Annexes one kind of evidence points to, and the words to show for it."""

    annexes: tuple[int, ...] = ()
    evidence: str = ""


NOTHING_FOUND = "表格标题、表头和文件名都看不出是附件几"
_LABELS = {"filename": "文件名", "subject": "邮件主题"}  # the clerk's word for each source


def classify(
    doc: Document | None,
    filename: str,
    subject: str,
    schemas: Mapping[int, AnnexSchema],
    memo: HeaderMemo | None = None,
) -> AnnexGuess:
    """Guess the annex of one attachment; ``annex`` is None when unknown or ambiguous.

    ``memo`` (of ``doc``) keeps the headers located here for the extraction.
    """
    name = _by_name(filename, schemas, "filename")
    subj = _by_name(subject, schemas, "subject")
    if doc is not None:
        vote = _by_title(doc, schemas)
        if vote.annexes:
            return _decide("title", vote, name, subj)
        vote = _by_header(doc, schemas, HeaderMemo.of(doc, memo))
        if vote.annexes:
            return _decide("header", vote, name, subj)
    if len(name.annexes) == 1:
        return AnnexGuess(name.annexes[0], name.evidence, "filename")
    if len(subj.annexes) == 1 and not name.annexes:
        return AnnexGuess(subj.annexes[0], subj.evidence, "subject")
    if name.annexes:
        return _ambiguous(name)
    return AnnexGuess(None, NOTHING_FOUND)


def _decide(source: str, vote: _Vote, name: _Vote, subj: _Vote) -> AnnexGuess:
    """Content decides; a name only breaks a tie among the content's candidates."""
    if len(vote.annexes) == 1:
        annex = vote.annexes[0]
        evidence = vote.evidence
        if name.annexes and annex not in name.annexes:
            evidence += f"；{name.evidence}（与文件名不一致，以内容为准）"
        return AnnexGuess(annex, evidence, source)
    for other, kind in ((name, "filename"), (subj, "subject")):
        narrowed = [a for a in other.annexes if a in vote.annexes]
        if len(other.annexes) == 1 and narrowed:
            return AnnexGuess(narrowed[0], f"{vote.evidence}；{other.evidence}", kind)
    return _ambiguous(vote)


def _ambiguous(vote: _Vote) -> AnnexGuess:
    listed = "、".join(f"附件{a}" for a in vote.annexes)
    return AnnexGuess(None, f"可能是{listed}（{vote.evidence}）", "", vote.annexes)


def _by_name(text: str, schemas: Mapping[int, AnnexSchema], kind: str) -> _Vote:
    """Annexes a file name or subject names: 附件4, 附件 4, 附件四, 附4, title words."""
    norm = _norm(text)
    found: dict[int, str] = {}
    for match in _ANNEX_NO.finditer(norm):
        number = _number(match.group(1))
        if number in schemas:
            found.setdefault(number, match.group(0))
    for number, schema in schemas.items():
        for word in schema.title_keywords:
            if word in norm:
                found.setdefault(number, word)
    if not found:
        return _Vote()
    words = "、".join(found[a] for a in sorted(found))
    return _Vote(tuple(sorted(found)), f"{_LABELS[kind]}：{words}")


def _by_title(doc: Document, schemas: Mapping[int, AnnexSchema]) -> _Vote:
    """Annexes named by title lines (annex titles, distinctive words, 附件N at the top)."""
    found: dict[int, str] = {}
    numbered: dict[int, str] = {}  # a bare 附件N line is shown only when no title names N
    titles = [(number, _norm(s.title), s.title_keywords) for number, s in schemas.items()]
    seen: set[str] = set()  # a line seen again names the same annexes again
    for line in _title_lines(doc):
        if line in seen or ("表" not in line and "附" not in line):
            continue  # no other character becomes 表 or 附 under NFKC
        seen.add(line)
        norm = _norm(line)
        top = _TOP_ANNEX_NO.match(norm)
        if top is not None and _number(top.group(1)) in schemas:
            numbered.setdefault(_number(top.group(1)), line)
        if "表" not in norm:
            continue
        for number, title, keywords in titles:
            if norm == title or any(w in norm for w in keywords):
                found.setdefault(number, line)
    found = {**numbered, **found}
    if not found:
        return _Vote()
    shown = "；".join(f"标题：{_elide(found[a])}" for a in sorted(found))
    return _Vote(tuple(sorted(found)), shown)


def _title_lines(doc: Document) -> Iterator[str]:
    """Short lines where a title can be: above each table, top of each table and of the doc."""
    sources = [doc.head_lines, doc.lines[:_LINES_PER_SOURCE]]
    for table in doc.tables:
        sources.append(table.before[-_LINES_PER_SOURCE:])
        sources.append(tuple(cell for row in table.rows[:2] for cell in row if cell))
    for lines in sources:
        for line in lines[:_LINES_PER_SOURCE]:
            if 0 < len(line.strip()) <= _TITLE_MAX:
                yield line.strip()


def _by_header(doc: Document, schemas: Mapping[int, AnnexSchema], memo: HeaderMemo) -> _Vote:
    """The annex whose header fits best: cells only it knows first, then mapped fields."""
    scores: dict[int, tuple[int, int, tuple[str, ...]]] = {}
    known: dict[str, tuple[int, ...]] = {}  # header text -> the annexes that know it
    for index in range(len(doc.tables)):
        for number, schema in schemas.items():
            header = memo.header(index, schema)
            if header is None:
                continue
            unique = tuple(
                text
                for src, name in zip(header.sources, header.fields, strict=False)
                if name and _only_in(text := normalise_header(src), number, schemas, known)
            )
            mapped = sum(1 for name in header.fields if name)
            score = (len(unique), mapped, unique or tuple(n for n in header.fields if n))
            if score[:2] > scores.get(number, (-1, -1, ()))[:2]:
                scores[number] = score
    if not scores:
        return _Vote()
    best = max(score[:2] for score in scores.values())
    winners = tuple(sorted(a for a, score in scores.items() if score[:2] == best))
    words = "、".join(scores[winners[0]][2][:3])
    return _Vote(winners, f"表头：{words}")


def _only_in(
    text: str, number: int, schemas: Mapping[int, AnnexSchema], known: dict[str, tuple[int, ...]]
) -> bool:
    """Is a header text known to annex ``number`` and no other? (``known`` remembers
    which annexes know each text, for the document's other headers.)"""
    owners = known.get(text)
    if owners is None:
        owners = known[text] = tuple(
            other for other, schema in schemas.items() if map_header(text, schema) is not None
        )
    return all(other == number for other in owners)


def _norm(text: str) -> str:
    return _SPACE.sub("", unicodedata.normalize("NFKC", text))


def _number(token: str) -> int:
    return _NUMERALS[token] if token in _NUMERALS else int(token)


def _elide(line: str) -> str:
    """``区直部门、驻区垂管单位…考核任务申报表`` for a long title."""
    line = _SPACE.sub("", line)
    return line if len(line) <= 24 else f"{line[:11]}…{line[-7:]}"
