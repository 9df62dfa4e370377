"""Serato DJ Pro's preset XML, generated from the serato-dj-pro table (never written by hand).

The shape follows files Serato itself saves (DJ 1.7 → DJ Pro 4): root ``<midi app=" 4.0.9…">``, one
``<control channel event_type control>`` per message, a ``userio event="click"`` whose child element
is the Serato function (``deck_set``/``deck_id``/``slot_id``) with a ``translation``, and a
``userio event="output"`` for the state Serato reports back (aliases on = 127, off = 0).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from .table import Control, Table

EVENT_TYPES = {"note": "Note On", "cc": "Control Change"}
ACTION_ON = {"any", "press", "release", "hold", "rotate_clockwise", "rotate_counterclockwise"}
BEHAVIOURS = {"explicit", "toggle", "static"}
REQUIRED = ("function", "action_on", "behaviour")


def deck_id(control: Control, fx_units: int = 2) -> int:
    """Serato's 0-based deck_id: the deck itself, the FX unit serving it, or a fixed number."""
    spec = control.row.host.get("deck_id", "deck")
    index = control.deck.index if control.deck is not None else 0
    if spec == "deck":
        return index
    if spec == "unit":
        return index % fx_units
    return int(spec)


def function_attrs(control: Control, fx_units: int) -> dict[str, str]:
    return {
        "deck_set": str(control.field("deck_set", "Default")),
        "deck_id": str(deck_id(control, fx_units)),
        "slot_id": str(control.field("slot", 0)),
    }


def control_element(control: Control, fx_units: int) -> ET.Element:
    row = control.row
    attrs = {"channel": str(control.channel + 1), "event_type": EVENT_TYPES[row.message]}
    if row.message == "cc":
        attrs["data_type"] = str(control.field("data_type", "Absolute 7"))
    attrs["control"] = str(row.number)
    element = ET.Element("control", attrs)

    click = ET.SubElement(element, "userio", event="click")
    function = ET.SubElement(click, control.field("function"), function_attrs(control, fx_units))
    translation = {"action_on": str(control.field("action_on")), "behaviour": str(control.field("behaviour"))}
    if translation["behaviour"] == "static":
        translation["static_value"] = str(control.field("static_value", ""))
    ET.SubElement(function, "translation", translation)

    if row.feedback:
        output = ET.SubElement(element, "userio", event="output")
        name = control.field("output") or control.field("function")
        sent = ET.SubElement(output, name, function_attrs(control, fx_units))
        tr = ET.SubElement(sent, "translation", action_on="any")
        ET.SubElement(tr, "alias", name="on", value="127")
        ET.SubElement(tr, "alias", name="off", value="0")
    return element


def check(table: Table) -> None:
    """Refuse rows Serato would not understand, naming the row."""
    from .table import TableError

    for row in table.rows:
        action_on = row.host.get("action_on")
        behaviour = row.host.get("behaviour")
        if action_on not in ACTION_ON:
            raise TableError(f"{table.target} row '{row.name}': action_on must be one of "
                             f"{', '.join(sorted(ACTION_ON))}, not {action_on!r}")
        if behaviour not in BEHAVIOURS:
            raise TableError(f"{table.target} row '{row.name}': behaviour must be one of "
                             f"{', '.join(sorted(BEHAVIOURS))}, not {behaviour!r}")
        if row.fourteen_bit:
            raise TableError(f"{table.target} row '{row.name}': Serato mappings here are 7-bit; drop fourteen_bit")


def generate(table: Table) -> bytes:
    """The preset file's bytes (UTF-8, no XML declaration, like Serato's own files)."""
    check(table)
    fx_units = int(table.meta.get("fx_units", 2))
    root = ET.Element("midi", app=str(table.meta.get("app", " 4.0.9.3040")))
    for control in table.controls():
        root.append(control_element(control, fx_units))
    ET.indent(root, space="    ")
    text = ET.tostring(root, encoding="unicode")
    # Serato writes the apostrophe of "Relative 2's Complement" as &apos;. ElementTree never puts an
    # apostrophe in markup (it quotes attributes with "), so every one here is inside a value.
    return (text.replace("'", "&apos;") + "\n").encode("utf-8")


def filename(table: Table) -> str:
    return f"{table.meta.get('preset', 'Copilot')}.xml"
