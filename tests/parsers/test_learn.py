"""``campaign learn``: blank forms → annex definitions; round trip with the built-in 2020 ones."""

from __future__ import annotations

import pytest

from parsers import read_document
from parsers.annexes_toml import render_toml
from parsers.learn import learn_document, learn_templates, to_schemas
from parsers.schema import DEFAULT_SCHEMAS, AnnexSchema, schemas_from_toml
from tests.support.corpus import require_soffice, soffice_convert
from tests.support.forms import HeaderStyle, make_docx_form, make_xlsx_form

UNIT = "填报单位（盖章）："


def same(a: AnnexSchema, b: AnnexSchema) -> None:
    assert (a.number, a.title, a.field_names, a.numeric_fields, a.name_field) == (
        b.number,
        b.title,
        b.field_names,
        b.numeric_fields,
        b.name_field,
    )


@pytest.mark.parametrize("kind", ["docx", "xlsx"])
def test_learned_2020_forms_equal_the_builtin_definition(kind: str) -> None:
    make = make_docx_form if kind == "docx" else make_xlsx_form
    learned = []
    for n in DEFAULT_SCHEMAS:
        style: HeaderStyle = "two_row" if n == 4 else "suffix" if n == 2 else "plain"
        data = make(n, [], unit_line=UNIT, header_style=style)
        learned.append(learn_document(read_document(data, kind), f"附件{n}：空白表.{kind}"))
    assert all(a.warnings == () for a in learned), [a.warnings for a in learned]
    back = schemas_from_toml(render_toml(learned))  # the written file loads as it is learned
    assert list(back) == list(DEFAULT_SCHEMAS) == list(to_schemas(learned))
    for n, schema in back.items():
        same(schema, DEFAULT_SCHEMAS[n])


def test_legacy_doc_and_xls_templates_learn_the_same() -> None:
    require_soffice()
    made = soffice_convert({"a3.docx": make_docx_form(3, [], unit_line=UNIT)}, "doc")
    made |= soffice_convert({"a5.xlsx": make_xlsx_form(5, [], unit_line=UNIT)}, "xls")
    learned = learn_templates([("附件3.doc", made["a3.doc"]), ("附件5.xls", made["a5.xls"])])
    got = to_schemas(learned)
    same(got[3], DEFAULT_SCHEMAS[3])
    same(got[5], DEFAULT_SCHEMAS[5])


def test_an_unnumbered_template_is_a_warning_and_a_number_to_fill_in() -> None:
    from tests.support.campaign_forms import xlsx_form

    head = [list(DEFAULT_SCHEMAS[6].field_names)]
    data = xlsx_form("Sheet1", DEFAULT_SCHEMAS[6].title, head)
    [annex] = learn_templates([("特色亮点表.xlsx", data)])
    assert annex.number is None and "附件编号需要手工填写" in annex.warnings[0]
    assert "number = 0    # 请改为正确的附件编号" in render_toml([annex])
    # the sheet's name is enough
    [named] = learn_templates([("特色亮点表.xlsx", make_xlsx_form(6, [], unit_line=UNIT))])
    assert named.number == 6 and named.warnings == ()


def test_numeric_by_suffix_or_example_row_and_the_year_free_keyword() -> None:
    from tests.support.campaign_forms import xlsx_form

    head = [["序号", "事项名称", "投入（万元）", "预计完成率", "备注"]]
    data = xlsx_form("附件7", "申报2021年度创新事项表", head, [["1", "示例", "", "95", ""]])
    [annex] = learn_templates([("附件7.xlsx", data)])
    assert [f.name for f in annex.fields if f.numeric] == ["投入", "预计完成率"]
    assert annex.keywords == ("创新事项表",) and annex.fields[1].required
