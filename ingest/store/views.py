"""Chinese views over the database for people who open it with a SQLite tool.

``v_报送情况`` (one row per unit and annex received), ``v_待认领`` (files waiting
for the clerk) and ``v_附件N汇总`` (the rows of each unit's latest readable form,
单位名称 first) — with times in the campaign's timezone. With several campaigns in one
mailbox, a row is per campaign too (the last column, 收集), judged by that campaign's
deadline from the ``收集`` table (:func:`record_campaigns`).

SQLite knows no timezone names, and times are stored as UTC text. The views read
a fixed offset (``+480 minutes`` for Asia/Shanghai) and the deadline from the small
``设置`` table, which :func:`record_campaign` refreshes whenever the program opens
the database with a campaign. So the views are plain SQL that never change with
the config, and an edited deadline or timezone shows at the next poll or report.
A zone with daylight saving time would be off by an hour for part of the year:
the offset is the one in force at the deadline.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import TYPE_CHECKING

from ingest.core.vocab import Outcome
from ingest.store.handle import Db, table_columns

if TYPE_CHECKING:
    from ingest.core.config import CampaignConfig

SETTINGS = "设置"
DEFAULT_MODIFIER = "+480 minutes"  # Asia/Shanghai, the campaign timezone by default


def _local(column: str) -> str:
    """SQL: a stored UTC time as campaign-local 'YYYY-MM-DD HH:MM'."""
    modifier = f"coalesce((select 值 from {SETTINGS} where 项目 = '时差'), '{DEFAULT_MODIFIER}')"
    return f"strftime('%Y-%m-%d %H:%M', {column}, {modifier})"


CAMPAIGNS = "收集"  # several campaigns: each one's deadline (record_campaigns)
_DEADLINE = (
    f"coalesce((select 截止时间UTC from {CAMPAIGNS} where 名称 = s.campaign),"
    f" (select 值 from {SETTINGS} where 项目 = '截止时间UTC'))"
)

STATUS_VIEW = f"""
select s.unit as 单位名称,
       s.annex as 附件,
       case
         when sum(s.status = '{Outcome.PARSED}') = 0 then '无法读取'
         when {_DEADLINE} is null then '已收到'
         when min(s.received) <= {_DEADLINE} then '已报送'
         else '逾期报送'
       end as 状态,
       {_local("min(s.received)")} as 首次收到,
       {_local("max(s.received)")} as 最近收到,
       count(*) as 收到次数,
       (select s2.rows from submissions s2
         where s2.unit = s.unit and s2.annex = s.annex and s2.campaign is s.campaign
           and s2.status = '{Outcome.PARSED}'
         order by s2.received desc, s2.id desc limit 1) as 行数,
       (select p.received_on from paper p
         where p.unit = s.unit and p.annex = s.annex) as 纸质版收到日期,
       (select s3.reason from submissions s3
         where s3.unit = s.unit and s3.annex = s.annex and s3.campaign is s.campaign
         order by s3.received desc, s3.id desc limit 1) as 说明,
       s.campaign as 收集
from submissions s
group by s.campaign, s.unit, s.annex
order by s.campaign, s.unit, s.annex
"""

UNASSIGNED_VIEW = f"""
select a.id as 附件编号,
       a.filename as 文件名,
       a.container as 所在压缩包,
       m.sender as 发件人,
       m.subject as 主题,
       {_local("m.received")} as 收到时间,
       a.annex as 推测附件,
       a.reason as 原因
from attachments a join messages m on m.id = a.message
where a.outcome = '{Outcome.UNASSIGNED}'
order by m.received, a.part
"""


def annex_view(table: str, columns: list[str]) -> str:
    """The rows of each unit's latest parsed version of one annex, 单位名称 first."""
    fields = ", ".join(f'r."{c}"' for c in columns)
    return f"""
select r.unit as 单位名称, r.row_no as 行号, {fields},
       a.filename as 来源文件, {_local("s.received")} as 收到时间, s.version as 版本,
       s.campaign as 收集
from "{table}" r
join submissions s on s.id = r.submission
left join attachments a on a.id = s.attachment
where s.id = (select s2.id from submissions s2
              where s2.unit = s.unit and s2.annex = s.annex and s2.campaign is s.campaign
                and s2.status = '{Outcome.PARSED}'
              order by s2.received desc, s2.id desc limit 1)
order by s.campaign, r.unit, r.row_no
"""


def ensure_views(db: Db) -> None:
    """Create or refresh the views (only those whose SQL changed: a cheap no-op normally)."""
    # an existing table takes no write lock here (a running poll does not make this wait)
    db.execute(f'CREATE TABLE IF NOT EXISTS "{SETTINGS}" (项目 TEXT PRIMARY KEY, 值 TEXT)')
    db.execute(
        f'CREATE TABLE IF NOT EXISTS "{CAMPAIGNS}" (名称 TEXT PRIMARY KEY, 截止时间UTC TEXT)'
    )
    wanted = {"v_报送情况": STATUS_VIEW, "v_待认领": UNASSIGNED_VIEW}
    for table in _annex_tables(db):
        number = table.removeprefix("annex").removesuffix("_rows")
        columns = [c for c in table_columns(db, table) if c not in _PLUMBING]
        wanted[f"v_附件{number}汇总"] = annex_view(table, columns)
    have = dict(db.execute("select name, sql from sqlite_master where type = 'view'").fetchall())
    for name, body in wanted.items():
        sql = f'CREATE VIEW "{name}" AS {body.strip()}'
        if have.get(name) != sql:
            _write(db, [(f'DROP VIEW IF EXISTS "{name}"', None), (sql, None)])


_PLUMBING = frozenset({"submission", "unit", "row_no", "extra"})


def _annex_tables(db: Db) -> list[str]:
    return [
        r[0]
        for r in db.execute(
            "select name from sqlite_master where type = 'table' and name glob 'annex*_rows' "
            "order by length(name), name"
        ).fetchall()
    ]


def record_campaign(db: Db, campaign: CampaignConfig) -> None:
    """Write the campaign's offset, timezone and deadline where the views read them."""
    offset = campaign.deadline.astimezone(campaign.timezone).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    values = {
        "时差": f"{minutes:+d} minutes",
        "时区": f"{campaign.timezone.key}（UTC{minutes // 60:+03d}:{abs(minutes) % 60:02d}）",
        "截止时间UTC": campaign.deadline.astimezone(UTC).isoformat(timespec="seconds"),
        "任务名称": campaign.name,
    }
    have = dict(db.execute(f'select 项目, 值 from "{SETTINGS}"').fetchall())
    if all(have.get(k) == v for k, v in values.items()):
        return
    _write(
        db,
        [(f'INSERT OR REPLACE INTO "{SETTINGS}" (项目, 值) VALUES (?, ?)', list(values.items()))],
    )


def record_campaigns(db: Db, campaigns: Sequence[CampaignConfig]) -> None:
    """Several campaigns in one mailbox: each one's deadline, where the views read them."""
    rows = sorted(
        (c.name, c.deadline.astimezone(UTC).isoformat(timespec="seconds")) for c in campaigns
    )
    if sorted(db.execute(f'select 名称, 截止时间UTC from "{CAMPAIGNS}"').fetchall()) == rows:
        return
    _write(
        db,
        [
            (f'DELETE FROM "{CAMPAIGNS}"', None),
            (f'INSERT INTO "{CAMPAIGNS}" (名称, 截止时间UTC) VALUES (?, ?)', rows),
        ],
    )


def _write(db: Db, steps: Sequence[tuple[str, Sequence[tuple[str, str]] | None]]) -> None:
    """Run *steps* — an SQL statement and the rows to run it for (None: once, without
    parameters) — in one write transaction (readers never see a view missing)."""
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        for sql, rows in steps:
            if rows is None:
                conn.execute(sql)
            else:
                conn.executemany(sql, rows)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
