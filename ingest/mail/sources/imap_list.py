"""Which UIDs are new: ``UID SEARCH``, read strictly, with a ``UID FETCH (UID)`` fallback.

imapclient's ``search()`` drops a number it cannot parse without a word
(``* SEARCH 101 x103 104`` gives ``[101, 104]``): the cursor would then pass 103
with no record of it. So the SEARCH reply is read here token by token; if any
token is not a number, the same range is listed again with ``UID FETCH n:* (UID)``,
where every line must carry a numeric UID (imapclient's FETCH parser is strict).
If that listing cannot be read either, the poll stops with :class:`MailboxError`
before any new UID is fetched: nothing is passed over, and mail already stored
stays stored. Duplicates and disorder in either reply are normalised (sorted, unique).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from imapclient import IMAPClient
from imapclient.exceptions import ProtocolError
from imapclient.response_parser import parse_fetch_response

from ingest.mail.sources.base import MailboxError

log = logging.getLogger(__name__)

UNREADABLE_LIST = (
    "邮箱服务器返回的邮件列表无法识别，本次未读取新邮件（已收到的邮件不受影响），"
    "下次收信时重试；如持续出现，请联系邮箱服务商"
)


class GarbledReply(ValueError):
    """A SEARCH reply with a token that is not a UID."""


def new_uids(client: IMAPClient, last: int) -> list[int]:
    """UIDs above *last*, ascending and unique; MailboxError if the server's list is unreadable."""
    uid_range = f"{last + 1}:*".encode()
    lines = client._raw_command_untagged(b"SEARCH", [b"UID", uid_range])
    try:
        found = parse_search(lines)
    except GarbledReply as e:
        log.warning("邮箱服务器的搜索结果中有无法识别的编号 %r，改用逐封列表核对", str(e))
        found = fetch_listing(client, uid_range)
    if len(found) != len(set(found)) or found != sorted(found):
        log.info("邮箱服务器的搜索结果有重复或乱序的编号，已整理")
    # "last+1:*" always matches the highest UID, even when it is <= last.
    return sorted({uid for uid in found if uid > last})


def parse_search(lines: Sequence[bytes | None]) -> list[int]:
    """Numbers of untagged ``* SEARCH`` replies; GarbledReply on any other token."""
    found: list[int] = []
    for line in lines:
        if line is None:
            continue
        for token in line.split():
            if not token.isdigit():
                raise GarbledReply(token.decode("ascii", "replace")[:40])
            found.append(int(token))
    return found


def fetch_listing(client: IMAPClient, uid_range: bytes) -> list[int]:
    """UIDs in *uid_range* from ``UID FETCH range (UID)``: every line must name its UID."""
    lines = client._raw_command_untagged(b"FETCH", [uid_range, b"(UID)"])
    try:
        parsed = parse_fetch_response(lines, normalise_times=False, uid_is_key=False)
    except (ProtocolError, ValueError) as e:
        log.debug("逐封列表也无法识别：%s", str(e)[:300])
        raise MailboxError(UNREADABLE_LIST) from None
    uids = [data.get(b"UID") for data in parsed.values()]
    if not all(isinstance(uid, int) for uid in uids):
        raise MailboxError(UNREADABLE_LIST)
    return [uid for uid in uids if isinstance(uid, int)]
