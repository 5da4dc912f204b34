"""The module's .ui binds every widget to a field of the parameter node (checked without Qt: a typo here
would only show inside Slicer, as a setting that silently does nothing)."""

from __future__ import annotations

import ast
import xml.etree.ElementTree as ET
from pathlib import Path

MODULE = Path(__file__).resolve().parents[1] / "CrossMRSegment"


def _parameter_fields() -> set[str]:
    tree = ast.parse((MODULE / "CrossMRSegment.py").read_text())
    node = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "CrossMRSegmentParameterNode")
    return {n.target.id for n in node.body if isinstance(n, ast.AnnAssign)}


def _bound_names() -> list[str]:
    root = ET.parse(MODULE / "Resources" / "UI" / "CrossMRSegment.ui").getroot()
    return [p.find("string").text for p in root.iter("property") if p.get("name") == "SlicerParameterName"]


def test_every_parameter_has_exactly_one_widget_and_every_binding_a_parameter():
    bound = _bound_names()
    assert sorted(bound) == sorted(set(bound)), "a parameter is bound to two widgets"
    assert set(bound) == _parameter_fields()
    assert {"threads", "device", "joint", "method", "backgroundProcess"} <= set(bound)
