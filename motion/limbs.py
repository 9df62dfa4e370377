"""The body as the solver sees it: six limb slots, in a fixed order the latent layout is built on.

A phone in a hand, a watch on a wrist, a mocopi bone: each becomes one *slot*. Devices that do not
name their limb get the next free slot in `AUTO_ORDER` (the first phone is the right hand, the
second the left …); `copilot.toml` or `--motion-limb` can pin any device to any limb.
"""

from __future__ import annotations

LIMBS: tuple[str, ...] = ("left_hand", "right_hand", "head", "torso", "left_foot", "right_foot")
SLOTS = len(LIMBS)
SLOT: dict[str, int] = {name: i for i, name in enumerate(LIMBS)}

# Which limb an unnamed device gets, in order of first arrival.
AUTO_ORDER: tuple[str, ...] = ("right_hand", "left_hand", "head", "torso", "right_foot", "left_foot")

LEFT = (SLOT["left_hand"], SLOT["left_foot"])
RIGHT = (SLOT["right_hand"], SLOT["right_foot"])

# Spellings people type for the same limb.
ALIASES: dict[str, str] = {
    "lh": "left_hand", "left": "left_hand", "l_hand": "left_hand", "left_wrist": "left_hand",
    "rh": "right_hand", "right": "right_hand", "r_hand": "right_hand", "right_wrist": "right_hand",
    "hand": "right_hand", "wrist": "right_hand", "phone": "right_hand",
    "neck": "head", "hips": "torso", "chest": "torso", "body": "torso", "root": "torso", "waist": "torso",
    "lf": "left_foot", "l_foot": "left_foot", "left_ankle": "left_foot",
    "rf": "right_foot", "r_foot": "right_foot", "right_ankle": "right_foot",
}


def limb_name(text: str) -> str:
    """The canonical limb for a name a performer typed; ValueError lists the choices."""
    key = text.strip().lower().replace("-", "_").replace(" ", "_")
    key = ALIASES.get(key, key)
    if key not in SLOT:
        raise ValueError(f"unknown limb {text!r}; use one of {', '.join(LIMBS)}")
    return key
