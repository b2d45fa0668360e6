"""Send mail through the office's SMTP server: implicit TLS or STARTTLS, verified.

The password comes from the environment or a private file (same rules as the
IMAP password, :mod:`ingest.core.secrets`) and is only handed to ``login``; it is
never logged or put in an error message. Plain unencrypted SMTP is refused:
these mails carry unit names, phone numbers and forms.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import formataddr

from ingest.core.config import SmtpConfig
from ingest.core.secrets import SecretError, read_secret

log = logging.getLogger(__name__)


class SmtpError(Exception):
    """Raised when mail cannot be sent (not configured, TLS, login, or the server refused)."""


def sender_address(cfg: SmtpConfig) -> str:
    """The From: header: the office's name and its address."""
    return formataddr((cfg.sender_name, cfg.sender or cfg.username))


def tls_context(cfg: SmtpConfig) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(cfg.ca_file) if cfg.ca_file else None)
    if not cfg.verify_tls:
        log.warning("smtp.verify_tls = false: the certificate of %s is NOT verified", cfg.host)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _password(cfg: SmtpConfig) -> str | None:
    if not cfg.username:
        return None  # a relay that does not authenticate
    try:
        return read_secret(cfg.password_env, cfg.password_file, "发信邮箱密码 (smtp.password_env)")
    except SecretError as e:
        raise SmtpError(str(e)) from None


@contextmanager
def connect(cfg: SmtpConfig) -> Iterator[smtplib.SMTP]:
    """A logged-in SMTP connection over TLS; closed on exit."""
    if not cfg.configured:
        raise SmtpError(
            "未配置发信服务器：请在配置文件 [smtp] 中设置 host、username 和 password_env"
        )
    if not (cfg.ssl or cfg.starttls):
        raise SmtpError(
            "发信必须加密：请在 [smtp] 中设置 ssl = true（端口 465）或 starttls = true（端口 587）"
        )
    password = _password(cfg)
    try:
        conn = _open(cfg)
    except (OSError, smtplib.SMTPException) as e:
        raise SmtpError(f"无法连接发信服务器 {cfg.host}:{cfg.port}：{_describe(e)}") from None
    try:
        if password is not None:
            _login(conn, cfg, password)
        yield conn
    finally:
        try:
            conn.quit()
        except (OSError, smtplib.SMTPException):
            conn.close()


def _login(conn: smtplib.SMTP, cfg: SmtpConfig, password: str) -> None:
    try:
        conn.login(cfg.username, password)
    except smtplib.SMTPAuthenticationError:
        raise SmtpError(
            f"发信服务器 {cfg.host} 拒绝登录：请检查 smtp.username 和密码（授权码）"
        ) from None
    except UnicodeEncodeError:  # smtplib sends AUTH as ASCII; never echo the value
        raise SmtpError(
            "发信密码含有中文或其他非 ASCII 字符，无法登录；163 授权码只含字母和数字"
        ) from None
    except (OSError, smtplib.SMTPException) as e:
        raise SmtpError(f"登录发信服务器 {cfg.host} 失败：{_describe(e)}") from None


def _open(cfg: SmtpConfig) -> smtplib.SMTP:
    ctx = tls_context(cfg)
    if cfg.ssl:
        return smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout_seconds, context=ctx)
    conn = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_seconds)
    try:
        conn.starttls(context=ctx)
    except BaseException:
        conn.close()
        raise
    return conn


def _describe(e: BaseException) -> str:
    if isinstance(e, ssl.SSLCertVerificationError):
        return f"证书校验失败（{e.verify_message}）；如使用内部证书，请设置 smtp.ca_file"
    return str(e) or type(e).__name__


def send_messages(
    cfg: SmtpConfig,
    messages: Sequence[EmailMessage],
    on_sent: Callable[[int, EmailMessage], None] | None = None,
) -> int:
    """Send *messages* over one connection; *on_sent(i, msg)* runs after each is accepted.

    Raises :class:`SmtpError` at the first failure; the messages before it were
    sent (and reported through *on_sent*). Returns how many were sent.
    """
    if not messages:
        return 0
    sent = 0
    with connect(cfg) as conn:
        for i, msg in enumerate(messages):
            if "From" not in msg:
                msg["From"] = sender_address(cfg)
            try:
                conn.send_message(msg)
            except (OSError, smtplib.SMTPException) as e:
                raise SmtpError(
                    f"发送“{msg['Subject']}”给 {msg['To']} 失败：{_describe(e)}"
                ) from None
            sent += 1
            if on_sent is not None:
                on_sent(i, msg)
    log.info("sent %d message(s) through %s", sent, cfg.host)
    return sent
