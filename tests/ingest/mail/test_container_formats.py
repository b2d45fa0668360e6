"""Archive members that are not plain files, and 7z methods py7zr cannot decode."""

from __future__ import annotations

import io
import subprocess
import zipfile
from pathlib import Path

from ingest.core.config import LimitsConfig
from ingest.mail.container_formats import BOMB, LINK, UNSUPPORTED
from ingest.mail.containers import expand
from tests.support.forms import make_xlsx_form, sample_rows
from tests.support.hostile_files import rar5_with_symlink
from tests.support.printing import tool

FORM = make_xlsx_form(4, sample_rows(4, 2))


def test_rar_symlink_is_skipped_as_a_link() -> None:
    result = expand(rar5_with_symlink("附件4.xlsx", FORM), "rar", "材料.rar", LimitsConfig())
    assert [(m.filename, m.payload) for m in result.members] == [("附件4.xlsx", FORM)]
    assert [(r.path, r.reason) for r in result.refusals] == [("材料.rar/link-to-form", LINK)]
    assert BOMB not in result.reasons


def test_zip_symlink_is_skipped_as_a_link() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("附件4.xlsx", FORM)
        link = zipfile.ZipInfo("快捷方式.xlsx")
        link.external_attr = 0o120777 << 16
        zf.writestr(link, "/etc/passwd")
    result = expand(buf.getvalue(), "zip", "材料.zip", LimitsConfig())
    assert [m.filename for m in result.members] == ["附件4.xlsx"]
    assert result.reasons == (LINK,)


def test_7z_with_bcj2_is_an_unsupported_method_not_a_broken_archive(tmp_path: Path) -> None:
    seven = tool("7z", "p7zip-full")
    (tmp_path / "附件4.xlsx").write_bytes(FORM)
    archive = tmp_path / "bcj2.7z"
    subprocess.run(
        [seven, "a", "-mf=BCJ2", str(archive), str(tmp_path / "附件4.xlsx")],
        check=True, capture_output=True,
    )  # fmt: skip
    result = expand(archive.read_bytes(), "7z", "材料.7z", LimitsConfig())
    assert result.members == ()
    assert result.reasons == (UNSUPPORTED,)
    assert UNSUPPORTED.startswith("压缩方式不受支持")
