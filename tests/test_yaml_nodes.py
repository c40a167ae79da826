"""YAML composition: libyaml, when PyYAML has it, gives the nodes the pure-Python loader gives."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from syncd.base import yamlnodes
from syncd.base.yamlnodes import YamlSyntaxError, compose

CONFIG = Path(__file__).resolve().parents[1] / "config"

SITE_FILE = """\
site_id: "0123"
api_key_file: /run/secrets/key
catalog: v1
source:
  path: stock.csv
  columns: {sku: Code, quantity: "Qty"}
policy:
  max_zeroed: 0010
  unmatched: ignore
tags: [a, 'b', ~, no, 1:30]
"""


def shape(node: yaml.Node | None) -> object:
    """A node graph as plain values: tag, value, style and the line and column of each node
    (a plain scalar's style is None from one loader and "" from the other; syncd reads
    neither)."""
    if node is None:
        return None
    where = (node.start_mark.line, node.start_mark.column, node.tag)
    if isinstance(node, yaml.ScalarNode):
        return (*where, node.value, node.style or None)
    if isinstance(node, yaml.SequenceNode):
        return (*where, [shape(n) for n in node.value])
    return (*where, [(shape(k), shape(v)) for k, v in node.value])


def pure(text: str) -> yaml.Node | None:
    return yaml.compose(text, Loader=yamlnodes._AliasLineLoader)


pytestmark = pytest.mark.skipif(yamlnodes._FAST_LOADER is None, reason="PyYAML without libyaml")


@pytest.mark.parametrize("text", [
    SITE_FILE,
    *(p.read_text(encoding="utf-8") for p in sorted(CONFIG.glob("*.yaml"))),
    "", "# only a comment\n", "- 1\n- two\n", "key: |\n  two\n  lines\n",
])
def test_libyaml_composes_the_nodes_the_pure_loader_composes(text):
    assert "*" not in text  # composed by libyaml
    assert shape(compose(text)) == shape(pure(text))


def test_a_text_with_an_alias_marks_aliased_nodes_at_the_alias():
    node = compose("base: &b {x: 1}\nsite: *b\n")
    assert isinstance(node, yaml.MappingNode)
    (_, _), (_, aliased) = node.value
    assert aliased.start_mark.line == 1
    assert aliased.value[0][0].start_mark.line == 1  # not line 0, where the anchor is


@pytest.mark.parametrize("text", ["a: [1, 2\nb: 3\n", "a: 1\n b: 2\n", "a: \x07\n"])
def test_a_text_libyaml_refuses_is_reported_as_the_pure_loader_reports_it(text):
    with pytest.raises(yaml.YAMLError) as expected:
        pure(text)
    with pytest.raises(YamlSyntaxError) as got:
        compose(text)
    assert got.value.__cause__ is not None
    assert type(got.value.__cause__) is type(expected.value)
    assert str(got.value.__cause__) == str(expected.value)
