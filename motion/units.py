"""Units the solver works in: acceleration in g, rotation rate in rad/s, angles in radians.

Senders disagree (Sensors2OSC sends raw Android m/s² with gravity, GyrOSC a compass in degrees);
adapters convert on the way in with these factors so nothing downstream ever guesses.
"""

from __future__ import annotations

import math

STANDARD_GRAVITY = 9.80665  # m/s² per g (ISO 80000-3)
MS2_TO_G = 1.0 / STANDARD_GRAVITY
DEG_TO_RAD = math.pi / 180.0

# Physical sanity limits: phone and watch IMUs saturate around ±16 g and ±2000 °/s. A reading beyond
# these is a broken packet or a wrong unit, not a movement, and is dropped (counted as out_of_range).
MAX_ACCEL_G = 32.0
MAX_GYRO_RAD_S = 2000.0 * DEG_TO_RAD * 1.5
MAX_POSITION_M = 100.0
HEART_RANGE = (20.0, 250.0)  # beats per minute
