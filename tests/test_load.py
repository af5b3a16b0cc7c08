"""Tests for sim.scenario.load: safe YAML loading with line numbers and `extends`."""

from __future__ import annotations

import math
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from sim.errors import ScenarioError
from sim.scenario.load import (
    LoadedDocument,
    dump_yaml,
    get_origin,
    load_scenario_document,
    load_yaml_document,
    resolve_extends_dict,
)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


# ---------------------------------------------------------------- single file


def test_line_numbers_of_nested_keys_and_list_items(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "s.yaml",
        """
        name: base
        economy:
          growth:
            KZ: 0.03
            DE: 0.01
        projects:
          list:
            - id: p1
              cost: 10
            - id: p2
              cost: 20
        """,
    )
    doc = load_yaml_document(path)
    f = str(path)
    assert doc.files == [f]
    assert doc.origins["name"] == (f, 1)
    assert doc.origins["economy"] == (f, 2)
    assert doc.origins["economy.growth"] == (f, 3)
    assert doc.origins["economy.growth.KZ"] == (f, 4)
    assert doc.origins["economy.growth.DE"] == (f, 5)
    assert doc.origins["projects.list[0]"] == (f, 8)
    assert doc.origins["projects.list[1]"] == (f, 10)
    assert doc.origins["projects.list[1].id"] == (f, 10)
    assert doc.origins["projects.list[1].cost"] == (f, 11)
    assert doc.data["projects"]["list"][1] == {"id": "p2", "cost": 20}


def test_scalar_types(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "s.yaml",
        """
        i: 42
        hex: 0x10
        f: 1.5
        e: 1e6
        e2: 1.5e3
        e3: .5E-2
        nan: .nan
        inf: -.inf
        b: true
        n: ~
        s: hello
        quoted: "42"
        """,
    )
    data = load_yaml_document(path).data
    assert data["i"] == 42 and isinstance(data["i"], int)
    assert data["hex"] == 16
    assert data["f"] == 1.5
    # PyYAML (YAML 1.1) would give the string "1e6"; we read it as a number.
    assert data["e"] == 1e6 and isinstance(data["e"], float)
    assert data["e2"] == 1500.0
    assert data["e3"] == 0.005
    assert math.isnan(data["nan"])
    assert data["inf"] == -math.inf
    assert data["b"] is True
    assert data["n"] is None
    assert data["s"] == "hello"
    assert data["quoted"] == "42"


def test_dates_stay_strings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "s.yaml",
        """
        start: 2016-01-01
        stamp: 2016-01-01 12:30:00
        dates: [2020-06-30]
        """,
    )
    data = load_yaml_document(path).data
    assert data["start"] == "2016-01-01"
    assert data["stamp"] == "2016-01-01 12:30:00"
    assert data["dates"] == ["2020-06-30"]


def test_int_keys_become_strings_and_bool_like_keys_keep_their_text(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "s.yaml",
        """
        growth:
          2016: 0.05
          2017: 0.04
        countries:
          NO: 1
          DE: 2
        """,
    )
    doc = load_yaml_document(path)
    assert doc.data["growth"] == {"2016": 0.05, "2017": 0.04}
    assert list(doc.data["countries"]) == ["NO", "DE"]
    assert doc.origins["growth.2017"] == (str(path), 3)


def test_non_scalar_key_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", "a:\n  ? [1, 2]\n  : x\n")
    with pytest.raises(ScenarioError) as info:
        load_yaml_document(path)
    assert info.value.file == str(path)
    assert info.value.line == 2


def test_null_key_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", "a: 1\n~: 2\n")
    with pytest.raises(ScenarioError, match="null") as info:
        load_yaml_document(path)
    assert info.value.line == 2


def test_duplicate_key_reports_both_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "s.yaml",
        """
        economy:
          growth: 1
          rate: 2
          other: 3
          growth: 4
        """,
    )
    with pytest.raises(ScenarioError) as info:
        load_yaml_document(path)
    err = info.value
    assert "key 'growth' appears twice (lines 2 and 5)" in err.problem
    assert err.file == str(path)
    assert err.line == 5
    assert err.key == "economy.growth"


def test_int_keys_that_collide_are_duplicates(tmp_path: Path) -> None:
    # 2016 and 0x7E0 are the same int, hence the same key once converted.
    path = write(tmp_path, "s.yaml", "g:\n  2016: 1\n  0x7E0: 2\n")
    with pytest.raises(ScenarioError, match="appears twice"):
        load_yaml_document(path)


@pytest.mark.parametrize(
    "text",
    [
        "x: !!python/object/apply:os.system ['echo hi']\n",
        "x: !!python/name:os.system\n",
        "x: !custom 5\n",
        "x: !!binary aGVsbG8=\n",
    ],
)
def test_unknown_tags_refused(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "s.yaml", "ok: 1\n" + text)
    with pytest.raises(ScenarioError, match="unknown YAML tag") as info:
        load_yaml_document(path)
    assert "evaluated as code" in info.value.problem
    assert info.value.file == str(path)
    assert info.value.line == 2


def test_python_tag_is_not_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = write(
        tmp_path,
        "s.yaml",
        f"x: !!python/object/apply:pathlib.Path.touch [!!python/object/apply:pathlib.Path "
        f"['{marker}']]\n",
    )
    with pytest.raises(ScenarioError, match="python/object/apply"):
        load_yaml_document(path)
    assert not marker.exists()


BILLION_LAUGHS = """
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_billion_laughs_refused_quickly(tmp_path: Path) -> None:
    path = write(tmp_path, "bomb.yaml", BILLION_LAUGHS)
    started = time.perf_counter()
    with pytest.raises(ScenarioError, match="expands to more than 1000000 nodes") as info:
        load_yaml_document(path)
    assert time.perf_counter() - started < 1.0
    assert info.value.file == str(path)


def test_small_aliases_allowed_and_max_nodes_enforced(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "s.yaml",
        """
        defaults: &d {rate: 0.1, years: [1, 2]}
        a: *d
        b: *d
        """,
    )
    doc = load_yaml_document(path)
    assert doc.data["a"] == doc.data["b"] == {"rate": 0.1, "years": [1, 2]}
    # Each expansion is a separate object, so later edits cannot leak between keys.
    assert doc.data["a"] is not doc.data["b"]
    assert doc.origins["b.rate"] == (str(path), 1)
    with pytest.raises(ScenarioError, match="more than 10 nodes"):
        load_yaml_document(path, max_nodes=10)


def test_recursive_alias_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", "a: &x [1, *x]\n")
    with pytest.raises(ScenarioError, match="alias refers to the node that contains it"):
        load_yaml_document(path)


def test_merge_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "s.yaml",
        """
        base: &base
          rate: 0.1
          years: 5
        other: &other
          rate: 0.9
          label: x
        derived:
          <<: [*base, *other]
          years: 7
        """,
    )
    doc = load_yaml_document(path)
    # Explicit keys win over merged ones; the first merge source wins over later ones.
    assert doc.data["derived"] == {"rate": 0.1, "years": 7, "label": "x"}
    assert "<<" not in doc.data["derived"]
    assert doc.origins["derived.rate"] == (str(path), 2)
    assert doc.origins["derived.years"] == (str(path), 9)


def test_empty_file_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", "# just a comment\n")
    with pytest.raises(ScenarioError, match="empty") as info:
        load_yaml_document(path)
    assert info.value.file == str(path)
    assert info.value.line == 1


def test_non_mapping_top_level_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", "# header\n- a\n- b\n")
    with pytest.raises(ScenarioError, match="must be a mapping") as info:
        load_yaml_document(path)
    assert info.value.line == 2


def test_syntax_error_has_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "s.yaml",
        """
        a: 1
        b:
          c: [1, 2
        d: 3
        """,
    )
    with pytest.raises(ScenarioError, match="YAML syntax error") as info:
        load_yaml_document(path)
    err = info.value
    assert err.file == str(path)
    assert err.line == 4
    assert err.hint
    assert f"{path}:4:" in str(err)


def test_syntax_error_names_the_character(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", "a:\n  b: 1\n\tc: 2\n")
    with pytest.raises(ScenarioError, match=r"'\\t'") as info:
        load_yaml_document(path)
    assert info.value.line == 3


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ScenarioError, match="not found") as info:
        load_yaml_document(path)
    assert info.value.file == str(path)


def test_directory_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        load_yaml_document(tmp_path)


def test_delete_without_base_is_dropped(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", "a: 1\nb: !delete\nc:\n  d: !delete ~\n  e: 2\n")
    doc = load_yaml_document(path)
    assert doc.data == {"a": 1, "c": {"e": 2}}
    assert "b" not in doc.origins and "c.d" not in doc.origins


def test_delete_in_list_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", "a:\n  - 1\n  - !delete\n")
    with pytest.raises(ScenarioError, match="list item") as info:
        load_yaml_document(path)
    assert info.value.line == 3


def test_replace_on_list_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", "a: !replace [1]\n")
    with pytest.raises(ScenarioError, match="!replace applies to a mapping"):
        load_yaml_document(path)


# ---------------------------------------------------------------- extends


@pytest.fixture
def base_and_variant(tmp_path: Path) -> tuple[Path, Path]:
    base = write(
        tmp_path,
        "base.yaml",
        """
        name: base
        start: 2016-01-01
        economy:
          growth:
            KZ: 0.03
            DE: 0.01
          inflation: 0.02
        policy:
          tax: 0.2
          subsidy: 0.1
        sectors: [agri, industry, services]
        legacy: true
        """,
    )
    variant = write(
        tmp_path,
        "variant.yaml",
        """
        extends: base.yaml
        name: high growth
        economy:
          growth:
            KZ: 0.05
        policy: !replace
          carbon_price: 30
        sectors: [energy]
        legacy: !delete
        """,
    )
    return base, variant


def test_extends_deep_merge(base_and_variant: tuple[Path, Path]) -> None:
    base, variant = base_and_variant
    doc = load_scenario_document(variant)
    assert doc.data == {
        "name": "high growth",
        "start": "2016-01-01",
        "economy": {"growth": {"KZ": 0.05, "DE": 0.01}, "inflation": 0.02},
        "policy": {"carbon_price": 30},
        "sectors": ["energy"],
    }
    assert "extends" not in doc.data
    assert doc.files == [str(base), str(variant)]


def test_extends_origins(base_and_variant: tuple[Path, Path]) -> None:
    base, variant = base_and_variant
    doc = load_scenario_document(variant)
    b, v = str(base), str(variant)
    assert doc.origins["name"] == (v, 2)
    assert doc.origins["economy.growth.KZ"] == (v, 5)
    assert doc.origins["economy.growth.DE"] == (b, 6)
    assert doc.origins["economy.inflation"] == (b, 7)
    assert doc.origins["start"] == (b, 2)
    assert doc.origins["sectors[0]"] == (v, 8)
    assert doc.origins["policy.carbon_price"] == (v, 7)
    # Replaced, deleted and shortened base subtrees leave no stale origins behind.
    assert "policy.tax" not in doc.origins
    assert "legacy" not in doc.origins
    assert "sectors[1]" not in doc.origins
    assert "extends" not in doc.origins
    assert get_origin(doc, "economy.growth.DE") == (b, 6)


def test_extends_chain_and_list_of_bases(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "x: 1\ny: {p: 1, q: 1}\nonly_a: a\n")
    write(tmp_path, "b.yaml", "y: {q: 2}\nz: b\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    # The base path is relative to the extending file's folder, not the cwd.
    write(sub, "mid.yaml", "extends: [../a.yaml, ../b.yaml]\nx: 2\n")
    top = write(sub, "top.yaml", "extends: mid.yaml\nz: top\nonly_a: !delete\n")
    doc = load_scenario_document(top)
    assert doc.data == {"x": 2, "y": {"p": 1, "q": 2}, "z": "top"}
    assert [Path(f).name for f in doc.files] == ["a.yaml", "b.yaml", "mid.yaml", "top.yaml"]
    assert Path(doc.origins["y.p"][0]).name == "a.yaml"
    assert Path(doc.origins["y.q"][0]).name == "b.yaml"
    assert Path(doc.origins["x"][0]).name == "mid.yaml"
    assert doc.origins["z"] == (str(top), 2)


def test_extends_cycle_lists_chain(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", "extends: b.yaml\nx: 1\n")
    b = write(tmp_path, "b.yaml", "y: 2\nextends: a.yaml\n")
    with pytest.raises(ScenarioError, match="extends cycle") as info:
        load_scenario_document(a)
    err = info.value
    assert f"{a} -> {b} -> {a}" in err.problem
    assert err.file == str(b)
    assert err.line == 2


def test_extends_self_cycle(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", "extends: ./a.yaml\n")
    with pytest.raises(ScenarioError, match="extends cycle"):
        load_scenario_document(a)


def test_missing_base(tmp_path: Path) -> None:
    path = write(tmp_path, "v.yaml", "name: v\nextends: nowhere.yaml\n")
    with pytest.raises(ScenarioError, match="does not exist") as info:
        load_scenario_document(path)
    err = info.value
    assert err.file == str(path)
    assert err.line == 2
    assert err.key == "extends"
    assert err.hint is not None and str(tmp_path) in err.hint


def test_extends_must_be_a_path(tmp_path: Path) -> None:
    path = write(tmp_path, "v.yaml", "extends: {a: 1}\n")
    with pytest.raises(ScenarioError, match="extends must name a scenario file") as info:
        load_scenario_document(path)
    assert info.value.line == 1


def test_error_in_base_points_at_base(tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", "a: 1\na: 2\n")
    variant = write(tmp_path, "v.yaml", "extends: base.yaml\n")
    with pytest.raises(ScenarioError, match="appears twice") as info:
        load_scenario_document(variant)
    assert info.value.file == str(base)


def test_load_yaml_document_keeps_extends(base_and_variant: tuple[Path, Path]) -> None:
    _, variant = base_and_variant
    doc = load_yaml_document(variant)
    assert doc.data["extends"] == "base.yaml"
    assert doc.data["policy"] == {"carbon_price": 30}
    assert "legacy" not in doc.data


def test_resolve_extends_dict(base_and_variant: tuple[Path, Path]) -> None:
    base, _ = base_and_variant
    given = {"extends": "base.yaml", "economy": {"inflation": 0.03}, "extra": [1]}
    doc = resolve_extends_dict(given, base.parent)
    assert doc.data["economy"] == {"growth": {"KZ": 0.03, "DE": 0.01}, "inflation": 0.03}
    assert doc.data["extra"] == [1]
    assert "extends" not in doc.data
    assert given["extends"] == "base.yaml"  # the caller's dict is untouched
    assert doc.origins["economy.inflation"] == ("<dict>", 0)
    assert doc.origins["extra[0]"] == ("<dict>", 0)
    assert doc.origins["economy.growth.KZ"] == (str(base), 5)
    assert doc.files == [str(base)]


def test_resolve_extends_dict_without_extends() -> None:
    doc = resolve_extends_dict({"a": {"b": 1}}, Path("."))
    assert doc.data == {"a": {"b": 1}}
    assert doc.origins == {"a": ("<dict>", 0), "a.b": ("<dict>", 0)}
    assert doc.files == []


# ---------------------------------------------------------------- dump and origins


def test_dump_yaml_round_trips(base_and_variant: tuple[Path, Path]) -> None:
    _, variant = base_and_variant
    data = load_scenario_document(variant).data
    data["years"] = {"2016": 1, "2017": 2}
    data["country"] = "NO"
    data["unicode"] = "Qazaqstan – Қазақстан"
    text = dump_yaml(data)
    assert yaml.safe_load(text) == data
    assert "Қазақстан" in text  # allow_unicode: not escaped
    assert text.index("name:") < text.index("economy:")  # key order kept, not sorted
    assert dump_yaml(data) == text


def test_get_origin_falls_back_to_ancestor() -> None:
    doc = LoadedDocument(
        data={},
        origins={"a": ("f.yaml", 1), "a.b": ("f.yaml", 2), "a.b.list[0]": ("f.yaml", 3)},
        files=["f.yaml"],
    )
    assert get_origin(doc, "a.b") == ("f.yaml", 2)
    assert get_origin(doc, "a.b.list[0].c") == ("f.yaml", 3)
    assert get_origin(doc, "a.b.list[5]") == ("f.yaml", 2)
    assert get_origin(doc, "a.zzz.q") == ("f.yaml", 1)
    assert get_origin(doc, "other.key") == (None, None)
