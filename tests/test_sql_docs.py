"""sql/README.md documents the analyst schema as it is: every view, every column with its type, every
migration and example query."""

from __future__ import annotations

import re

import pytest

from pipeline import warehouse as wh
from pipeline.settings import SQL_DIR

README = SQL_DIR / "README.md"
_SECTION = re.compile(r"^### analytics\.([a-z_]+)\s*$", re.MULTILINE)
_COLUMN_ROW = re.compile(r"^\|\s*`([a-z_][a-z0-9_]*)`\s*\|\s*([^|]+?)\s*\|\s*(.*?)\s*\|\s*$")


def documented_views(text: str) -> dict[str, dict]:
    """{view: {"columns": [(name, type, meaning)], "body": section text}} from the README's sections."""
    marks = list(_SECTION.finditer(text))
    out = {}
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        end = min(end, text.find("\n## ", m.end()) if text.find("\n## ", m.end()) >= 0 else end)
        body = text[m.end():end]
        rows = [_COLUMN_ROW.match(line) for line in body.splitlines()]
        out[m.group(1)] = {"columns": [r.groups() for r in rows if r], "body": body}
    return out


def _type(data_type: str, udt_name: str) -> str:
    if data_type == "ARRAY":
        return udt_name.lstrip("_") + "[]"
    return {"timestamp with time zone": "timestamptz"}.get(data_type, data_type)


@pytest.fixture(scope="module")
def docs() -> dict[str, dict]:
    return documented_views(README.read_text(encoding="utf-8"))


@pytest.fixture
def actual(warehouse) -> dict[str, list[tuple[str, str]]]:
    """{view: [(column, type)]} of the analytics schema of a freshly migrated warehouse."""
    with warehouse.cursor() as cur:
        cur.execute(
            """
            select c.table_name, c.column_name, c.data_type, c.udt_name
              from information_schema.columns c
              join information_schema.views v using (table_schema, table_name)
             where c.table_schema = 'analytics'
             order by c.table_name, c.ordinal_position
            """
        )
        rows = cur.fetchall()
    warehouse.commit()
    out: dict[str, list[tuple[str, str]]] = {}
    for view, column, data_type, udt_name in rows:
        out.setdefault(view, []).append((column, _type(data_type, udt_name)))
    return out


def test_the_parser_reads_a_column_table():
    text = ("intro\n### analytics.demo\n\nGrain: one row per thing.\n\n| column | type | meaning |\n|---|---|---|\n"
            "| `thing_id` | bigint | the id |\n| `parties_key` | text | `RUS\\|UKR` |\n\n## Roles\n| `not_a` | x | y |\n")
    assert documented_views(text)["demo"]["columns"] == [("thing_id", "bigint", "the id"),
                                                         ("parties_key", "text", "`RUS\\|UKR`")]


def test_every_view_of_the_analytics_schema_has_a_section(docs, actual):
    assert set(actual) == {p.stem.split("_", 1)[1] for p in wh.list_views(SQL_DIR)}  # one view a file
    assert sorted(docs) == sorted(actual)


def test_every_view_column_is_documented_with_its_type(docs, actual):
    for view, columns in actual.items():
        documented = [(name, typ) for name, typ, _meaning in docs[view]["columns"]]
        names = [n for n, _ in documented]
        undocumented = [c for c, _ in columns if c not in names]
        stale = [n for n in names if n not in {c for c, _ in columns}]
        assert undocumented == [], f"analytics.{view}: columns missing from sql/README.md: {undocumented}"
        assert stale == [], f"analytics.{view}: sql/README.md documents columns the view lacks: {stale}"
        assert documented == columns, f"analytics.{view}: order or types differ from the view"


def test_every_column_has_a_meaning(docs):
    for view, section in docs.items():
        blank = [name for name, _typ, meaning in section["columns"] if len(meaning) < 8]
        assert blank == [], f"analytics.{view}: columns without a meaning: {blank}"


def test_every_view_section_states_its_grain_and_file(docs):
    files = {p.stem.split("_", 1)[1]: p.name for p in wh.list_views(SQL_DIR)}
    for view, section in docs.items():
        assert "**Grain: one row per" in section["body"], view
        assert f"`views/{files[view]}`" in section["body"], view


def test_every_migration_and_example_query_is_listed():
    text = README.read_text(encoding="utf-8")
    files = [m.path.name for m in wh.list_migrations(SQL_DIR)] + [p.name for p in (SQL_DIR / "examples").glob("*.sql")]
    assert files and [f for f in files if f"`{f}`" not in text] == []
