"""Report, reminders and receipts sent to a real local SMTP server (aiosmtpd, TLS)."""

from __future__ import annotations

from email.message import EmailMessage
from io import BytesIO
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from ingest.app.cli import cli
from ingest.app.daily import write_daily_report
from ingest.app.outbox.receipts import claim_receipt, draft_receipts
from ingest.app.outbox.reminders import draft_reminders
from ingest.app.outbox.run import run_receipts
from ingest.app.outbox.smtp import SmtpError, send_messages
from ingest.store.db import open_db
from ingest.store.ledger import unconfirmed
from reports.output import build_report
from tests.support.report_samples import OFFICE, demo_as_of, make_config, make_demo, sample_report
from tests.support.smtp_server import PASSWORD_ENV, SmtpServer, smtp_toml

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Requiring AUTH:UserWarning"),
    pytest.mark.filterwarnings("ignore:Session.login_data:DeprecationWarning"),
]


def simple(subject: str = "测试") -> EmailMessage:
    msg = EmailMessage()
    msg["To"] = "fgj@nz.gov.cn"
    msg["Subject"] = subject
    msg.set_content("你好")
    return msg


def test_send_over_tls_with_verified_certificate(
    smtp_server: SmtpServer,
    tmp_path: Path,
) -> None:
    cfg = make_config(tmp_path, smtp=smtp_server.config())
    assert send_messages(cfg.smtp, [simple("考核办测试邮件")]) == 1
    got = smtp_server.received[0]
    assert got.message["Subject"] == "考核办测试邮件"
    assert got.message["From"].addresses[0].display_name == "南郑区考核办"
    assert got.recipients == ["fgj@nz.gov.cn"]
    assert smtp_server.logins == [("PLAIN", True)]


def test_untrusted_certificate_is_refused(smtps: SmtpServer, tmp_path: Path) -> None:
    conf = smtps.config()
    del conf["ca_file"]
    with pytest.raises(SmtpError, match="证书校验失败"):
        send_messages(make_config(tmp_path, smtp=conf).smtp, [simple()])
    assert smtps.received == []


def test_wrong_password_is_refused_and_never_echoed(
    smtps: SmtpServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "wrong-secret-123")
    with pytest.raises(SmtpError) as err:
        send_messages(make_config(tmp_path, smtp=smtps.config()).smtp, [simple()])
    assert "拒绝登录" in str(err.value) and "wrong-secret-123" not in str(err.value)


def test_unencrypted_smtp_is_refused(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, smtp={"host": "127.0.0.1", "port": 25, "ssl": False})
    with pytest.raises(SmtpError, match="发信必须加密"):
        send_messages(cfg.smtp, [simple()])


def test_reminders_arrive_at_roster_addresses(smtps: SmtpServer, tmp_path: Path) -> None:
    cfg = make_config(tmp_path, smtp=smtps.config())
    send_messages(cfg.smtp, draft_reminders(sample_report(), cfg, OFFICE))
    got = {tuple(r.recipients): r.message for r in smtps.received}
    assert set(got) == {("czj@nz.gov.cn",), ("fgj@nz.gov.cn", "fgj2@163.com")}
    fgj = got[("fgj@nz.gov.cn", "fgj2@163.com")]
    assert fgj["Subject"].startswith("【催报】2020年度考核指标申报：南郑区发展和改革局")
    body = fgj.get_content()
    assert (
        "附件5（负面清单考核指标（扣分）建议表）：已收到，但无法读取（加密文件，无法读取）" in body
    )
    assert "请取消文件密码后重新发送" in body and "联系人：宋艳丽，电话：5511051" in body
    assert "附件6" not in body.split("另：")[0]  # annex 6 was submitted


def test_daily_report_files_and_mail(smtps: SmtpServer, tmp_path: Path) -> None:
    recipients = '[report]\nsend = true\nrecipients = ["director@nz.gov.cn"]\n'
    cfg = make_demo(tmp_path / "demo", smtp_toml(smtps) + recipients)
    folder = write_daily_report(cfg, demo_as_of())
    assert folder == cfg.data_dir / "reports" / "2020-03-23"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"报送情况-2020-03-23.{x}" for x in ("html", "json", "txt", "xlsx")]
    for ext in ("html", "json", "txt", "xlsx"):
        assert (cfg.data_dir / "reports" / f"latest.{ext}").read_bytes() == (
            folder / f"报送情况-2020-03-23.{ext}"
        ).read_bytes()
    [mail] = smtps.received
    assert mail.recipients == ["director@nz.gov.cn"]
    assert mail.message["Subject"].startswith("2020年度考核指标申报（演示）报送情况（2020-03-23）")
    html = mail.message.get_body(("html",))
    assert html is not None and "<svg" in html.get_content()
    [att] = list(mail.message.iter_attachments())
    assert att.get_filename() == "报送情况-2020-03-23.xlsx"
    assert load_workbook(BytesIO(att.get_content())).sheetnames == [
        "总览",
        "明细",
        "逾期名单",
        "待认领",
        "纸质版",
    ]


def test_receipts_threaded_once(smtps: SmtpServer, tmp_path: Path) -> None:
    cfg = make_demo(tmp_path / "demo", smtp_toml(smtps))
    db = open_db(cfg.db_path)
    originals = {r["id"]: r for r in db.query("select * from messages")}
    dry = run_receipts(cfg, demo_as_of(), dry_run=True)
    assert dry[0].startswith("已生成 ") and smtps.received == []
    assert db.execute("select count(*) from receipts").fetchone()[0] == 0
    expected = len(draft_receipts(db, cfg, build_report(cfg, demo_as_of())))
    assert expected >= 20
    assert run_receipts(cfg, demo_as_of(), dry_run=False)[0] == f"已发送 {expected} 封回执。"
    assert len(smtps.received) == expected
    by_reply = {r.message["In-Reply-To"]: r for r in smtps.received}
    sent = {r["id"] for r in db.query("select id from messages where receipt_sent_at is not null")}
    for mid in sent:
        m = originals[mid]
        got = by_reply[m["message_id"]]
        assert got.recipients == [m["sender"]]
        assert got.message["Subject"] == f"回执：{m['subject']}"
        assert got.message["References"] == m["message_id"]
    body = next(r for r in smtps.received if "仅扫描件" in r.message.get_content())
    assert (
        "已收到，但无法读取" in body.message.get_content()
        or "未能读取数据" in body.message.get_content()
    )
    assert run_receipts(cfg, demo_as_of(), dry_run=False)[0] == "已发送 0 封回执。"
    assert len(smtps.received) == expected


def test_refused_and_unconfirmed_receipts_are_not_resent(
    smtps: SmtpServer,
    tmp_path: Path,
) -> None:
    cfg = make_demo(tmp_path / "demo", smtp_toml(smtps))
    db = open_db(cfg.db_path)
    drafts = draft_receipts(db, cfg, build_report(cfg, demo_as_of()))
    (crashed_id, crashed), (refused_id, refused) = drafts[0], drafts[1]
    claim_receipt(db, cfg, crashed_id, crashed)  # as if the process died right after claiming
    smtps.handler.refuse.add(refused["To"].addresses[0].addr_spec)
    lines = run_receipts(cfg, demo_as_of(), dry_run=False)
    assert lines[0] == f"已发送 {len(drafts) - 2} 封回执。"
    assert any(line.startswith(f"回执被拒收：邮件 {refused_id[:12]}") for line in lines)
    assert any(crashed_id[:12] in line and "状态不明" in line for line in lines)
    assert [r["message"] for r in unconfirmed(db)] == [crashed_id]
    sent_to = {r.message["In-Reply-To"] for r in smtps.received}
    assert crashed["In-Reply-To"] not in sent_to and refused["In-Reply-To"] not in sent_to
    again = run_receipts(cfg, demo_as_of(), dry_run=False)
    assert again[0] == "已发送 0 封回执。" and len(smtps.received) == len(drafts) - 2


def test_paper_command_records_and_undoes(tmp_path: Path) -> None:
    cfg = make_demo(tmp_path / "demo")
    assert cfg.path is not None
    runner = CliRunner()
    unit = next(u for u in build_report(cfg, demo_as_of()).units if 4 in u.annexes)
    res = runner.invoke(
        cli, ["-c", str(cfg.path), "paper", unit.unit, "--annex", "4", "--date", "2020-03-18"]
    )
    assert res.exit_code == 0, res.output
    assert f"已记录：2020-03-18 收到 {unit.unit} 附件4 的纸质版" in res.output
    report = build_report(cfg, demo_as_of())
    got = next(u for u in report.units if u.unit == unit.unit).annexes[4]
    assert got.paper_received is not None and got.paper_received.isoformat() == "2020-03-18"
    res = runner.invoke(cli, ["-c", str(cfg.path), "paper", unit.unit, "--annex", "4", "--undo"])
    assert res.exit_code == 0 and "已撤销" in res.output
    report = build_report(cfg, demo_as_of())
    assert next(u for u in report.units if u.unit == unit.unit).annexes[4].paper_received is None
    res = runner.invoke(cli, ["-c", str(cfg.path), "paper", "不存在的局", "--annex", "4"])
    assert res.exit_code != 0 and "单位名单中没有“不存在的局”" in res.output


def test_remind_dry_run_writes_eml_and_sends_nothing(tmp_path: Path) -> None:
    cfg = make_demo(tmp_path / "demo")  # no [smtp]: sending would fail, drafting must not
    assert cfg.path is not None
    res = CliRunner().invoke(cli, ["-c", str(cfg.path), "remind", "--dry-run"])
    assert res.exit_code == 0, res.output
    [folder] = list((cfg.data_dir / "outbox" / "reminders").iterdir())
    emls = sorted(folder.glob("*.eml"))
    assert emls and f"已生成 {len(emls)} 封催报邮件草稿（未发送）" in res.output
    res = CliRunner().invoke(cli, ["-c", str(cfg.path), "remind"])
    assert res.exit_code != 0 and "未配置发信服务器" in res.output


@pytest.mark.parametrize("command", ["paper", "remind", "receipts"])
def test_help_has_an_example(command: str) -> None:
    res = CliRunner().invoke(cli, [command, "--help"])
    assert res.exit_code == 0 and "例：kaohe -c config.toml " + command in res.output


def test_old_daily_reports_are_pruned(tmp_path: Path) -> None:
    from datetime import date

    from ingest.app.daily import prune_reports

    for name in ("2020-03-01", "2020-03-20", "2020-03-23", "manual"):
        (tmp_path / name).mkdir()
    removed = prune_reports(tmp_path, date(2020, 3, 20))
    assert [p.name for p in removed] == ["2020-03-01"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2020-03-20", "2020-03-23", "manual"]
