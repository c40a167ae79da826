"""``--output json`` writes the text ``json.dumps(indent=2, ensure_ascii=False)`` wrote."""

from __future__ import annotations

import json
from enum import StrEnum

import pytest

from syncd.frontends.render import to_json


class Kind(StrEnum):
    FULL = "full"


@pytest.mark.parametrize("document", [
    {},
    [],
    {"sites": [], "errors": {}},
    {"site": "shop ☕", "kind": Kind.FULL, "changes": [
        {"sku": 'A "1"\\\t\u2028\x00', "before": None, "after": 7, "hidden": False,
         "lines": (2, 3), "share": 0.25, "nested": [[], [{}], {"k": []}]}]},
    "text", 12, None,
], ids=["empty-object", "empty-list", "empty-members", "a-plan", "text", "number", "null"])
def test_json_output_is_the_text_json_dumps_wrote(document):
    assert to_json(document) == json.dumps(document, indent=2, ensure_ascii=False)


def test_json_output_refuses_what_json_cannot_write():
    with pytest.raises(TypeError):
        to_json({"what": object()})
