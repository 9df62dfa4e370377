"""Mixxx's controller mapping (``<Name>.midi.xml`` + ``<Name>-scripts.js``), generated from the mixxx table.

Mixxx toggles ``play``, ``sync_enabled``, ``loop_enabled`` and effect routing on every MIDI press, so
rows that must *set* a state carry ``script = [[group, key, value], …]``: they become
``<script-binding/>`` controls calling a small generated script that sets exactly those values on
press. Everything else binds the Mixxx control directly. Both files come from the table; the
script holds the table's data as JSON and a few lines that apply it.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from .table import Control, Table, TableError

# Mixxx's option element names (its legacy MIDI mapping parser).
OPTIONS = {"normal", "invert", "button", "switch", "soft-takeover", "selectknob", "diff", "rot64", "rot64inv",
           "rot64fast", "spread64", "hercjog", "hercjogfast", "script-binding", "fourteen-bit-msb", "fourteen-bit-lsb"}
REQUIRED = ("group", "key")


def script_name(table: Table) -> str:
    return f"{table.meta.get('preset', 'Copilot')}-scripts.js"


def mapping_name(table: Table) -> str:
    return f"{table.meta.get('preset', 'Copilot')}.midi.xml"


def prefix(table: Table) -> str:
    value = str(table.meta.get("script_prefix", "CopilotMixxx"))
    if not value.isidentifier():
        raise TableError(f"{table.target}: script_prefix must be a JavaScript identifier, not {value!r}")
    return value


def scripted(table: Table) -> list:
    return [row for row in table.rows if row.host.get("script")]


def check(table: Table) -> None:
    for row in table.rows:
        unknown = set(row.host.get("options", [])) - OPTIONS
        if unknown:
            raise TableError(f"{table.target} row '{row.name}': unknown Mixxx option(s) {sorted(unknown)}")
        for entry in row.host.get("script", []):
            if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], str)
                    and isinstance(entry[1], str) and isinstance(entry[2], int | float)):
                raise TableError(f"{table.target} row '{row.name}': script entries are [group, key, number]")
        if row.host.get("script") and not row.per_deck:
            raise TableError(f"{table.target} row '{row.name}': scripted rows must be per deck "
                             "(the script finds the deck from the MIDI channel)")
        if row.host.get("script") and not row.name.isidentifier():
            raise TableError(f"{table.target} row '{row.name}': a scripted row's name becomes a script "
                             "function, so it must be letters, digits and _ (not starting with a digit)")


def _hex(value: int) -> str:
    return f"0x{value:02X}"


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = text
    return element


def _control(parent: ET.Element, control: Control, key: str, number: int, options: list[str], what: str) -> None:
    element = ET.SubElement(parent, "control")
    _text(element, "group", control.field("group"))
    _text(element, "key", key)
    _text(element, "description", what)
    _text(element, "status", _hex(control.status_byte))
    _text(element, "midino", _hex(number))
    opts = ET.SubElement(element, "options")
    for option in options or ["normal"]:
        ET.SubElement(opts, option)


def _describe(control: Control) -> str:
    deck = f"deck {control.deck.value}: " if control.deck else ""
    return f"{deck}{control.row.what} (copilot row '{control.row.name}')"


def generate_xml(table: Table) -> bytes:
    check(table)
    root = ET.Element("MixxxControllerPreset", schemaVersion="1",
                      mixxxVersion=str(table.meta.get("mixxx_version", "2.4.0+")))
    info = ET.SubElement(root, "info")
    _text(info, "name", str(table.meta.get("preset", "Copilot")))
    _text(info, "author", str(table.meta.get("author", "copilot")))
    _text(info, "description", str(table.meta.get("description", "")))
    controller = ET.SubElement(root, "controller", id=str(table.meta.get("controller_id", "Copilot")))
    files = ET.SubElement(controller, "scriptfiles")
    if scripted(table):
        ET.SubElement(files, "file", filename=script_name(table), functionprefix=prefix(table))
    controls = ET.SubElement(controller, "controls")
    outputs = ET.SubElement(controller, "outputs")
    for control in table.controls():
        row = control.row
        what = _describe(control)
        options = list(row.host.get("options", []))
        if row.host.get("script"):
            _control(controls, control, f"{prefix(table)}.{row.name}", row.number, ["script-binding"], what)
        elif row.fourteen_bit:
            _control(controls, control, control.field("key"), row.number, ["fourteen-bit-msb", *options], what)
            _control(controls, control, control.field("key"), row.number + 32, ["fourteen-bit-lsb", *options], what)
        else:
            _control(controls, control, control.field("key"), row.number, options, what)
        out = row.host.get("output")
        if out:
            spec = control.field("output")
            element = ET.SubElement(outputs, "output")
            _text(element, "group", str(spec.get("group", control.field("group"))))
            _text(element, "key", str(spec["key"]))
            _text(element, "description", f"{what} → copilot")
            _text(element, "status", _hex(control.status_byte))
            _text(element, "midino", _hex(row.number))
            _text(element, "on", _hex(int(spec.get("on", 0x7F))))
            _text(element, "off", _hex(int(spec.get("off", 0x00))))
            _text(element, "minimum", f"{float(spec.get('minimum', 0.5)):g}")
            _text(element, "maximum", f"{float(spec.get('maximum', 1)):g}")
    ET.indent(root, space="    ")
    body = ET.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + body + "\n").encode("utf-8")


SCRIPT_BODY = """\
// Generated by copilot from its mixxx table; install again instead of editing.
// Each function below is bound in {mapping} to one button row. On press (value > 0) it sets the
// listed [group, key, value] controls; "{{deck}}" is the deck of the MIDI channel (channel 1 = deck 1).
var {prefix} = {{}};

{prefix}.sets = {sets};

{prefix}.init = function (id, debugging) {{}};

{prefix}.shutdown = function () {{}};

{prefix}.apply = function (row, channel, value) {{
    if (value === 0) {{
        return;  // the release of the press
    }}
    var deck = String(channel + 1);
    {prefix}.sets[row].forEach(function (entry) {{
        engine.setValue(entry[0].split("{{deck}}").join(deck), entry[1].split("{{deck}}").join(deck), entry[2]);
    }});
}};
"""

FUNCTION = """
{prefix}.{row} = function (channel, control, value, status, group) {{
    {prefix}.apply("{row}", channel, value);
}};
"""


def generate_script(table: Table) -> bytes:
    check(table)
    rows = scripted(table)
    sets = "{\n" + ",\n".join(f"    {json.dumps(row.name)}: {json.dumps(row.host['script'])}" for row in rows) + "\n}"
    text = SCRIPT_BODY.format(prefix=prefix(table), mapping=mapping_name(table), sets=sets)
    for row in rows:
        text += FUNCTION.format(prefix=prefix(table), row=row.name)
    return text.encode("utf-8")
