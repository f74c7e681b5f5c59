"""Python and TypeScript speak the same language: traitlets and the front end's Model type."""

from __future__ import annotations

import pathlib
import re

from copilot_widget import Copilot

TYPES = pathlib.Path(__file__).parent.parent / "js" / "types.ts"


def test_front_end_model_mirrors_the_synced_traitlets_name_for_name() -> None:
    body = re.search(r"export interface Model \{(.*?)\n\}", TYPES.read_text(), re.DOTALL)
    assert body is not None
    ts_names = set(re.findall(r"^\s+(\w+):", body.group(1), re.MULTILINE))
    synced = set(Copilot(api_key="k").trait_names(sync=True))
    widget_internals = {n for n in synced if n.startswith("_")} | {
        "comm",
        "keys",
        "layout",
        "log",
        "tabbable",
        "tooltip",
    }
    assert ts_names == synced - widget_internals


def test_messages_from_the_front_end_that_make_no_sense_are_ignored() -> None:
    copilot = Copilot(api_key="k")
    for content in ("text", None, [], {"kind": "launch", "tool_call_id": "x"}, {"no": "kind"}):
        copilot._handle_custom_msg(content, [])
    assert copilot.messages == [] and copilot.error is None and copilot.status == "idle"
    copilot._handle_custom_msg({"kind": "send", "text": 42}, [])
    assert copilot.error is not None and copilot.error["type"] == "invalid_options_error"
    assert copilot.messages == []
