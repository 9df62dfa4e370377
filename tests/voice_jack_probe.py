"""A separate process for the JACK capture test: PortAudio must be shut down before the test's JACK
server is, which only a process of its own can promise (sounddevice terminates PortAudio at exit).

    python voice_jack_probe.py CLIENT_NAME WAV SECONDS → one JSON line on stdout

It opens the real capture path (numba cfunc ring → reader thread → 16 kHz frames → listener with
the bundled Whisper), plays WAV from a second stream of the same JACK client, wires the player's
output into the capture input with jack_connect, and reports what was heard.
"""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys
import threading
import time


def main(client: str, wav: str, seconds: float) -> dict:
    import sounddevice as sd

    sd._terminate()  # name our JACK client before PortAudio connects (it connects at initialise)
    name = ctypes.create_string_buffer(client.encode())
    ctypes.CDLL(sd._libname).PaJack_SetClientName(name)
    sd._initialize()
    try:
        return _run(sd, client, wav, seconds)
    finally:
        sd._terminate()  # now, while the server is still up; the exit handler then has nothing to do


def _run(sd, client: str, wav: str, seconds: float) -> dict:
    import numpy as np

    from copilot.voice.asr import Transcriber
    from copilot.voice.capture import MicSource, read_wav
    from copilot.voice.listener import Heard, Listener

    heard: list[Heard] = []
    transcriber = Transcriber()
    transcriber.warm_up()
    listener = Listener(transcriber, heard.append)
    listener.start()
    mic = MicSource(listener.feed)
    audio, rate = read_wav(wav)
    if rate != mic.samplerate:
        import soxr

        audio = soxr.resample(audio, rate, mic.samplerate).astype(np.float32)
    position = 0
    done = threading.Event()

    def play(outdata, frames, _time, _status):  # the player may be Python: it is not under test
        nonlocal position
        chunk = audio[position:position + frames]
        outdata[:] = 0
        outdata[: chunk.size, 0] = chunk
        position += frames
        if position >= audio.size:
            done.set()

    player = sd.OutputStream(samplerate=mic.samplerate, channels=1, dtype="float32", callback=play)
    mic.start()
    player.start()
    subprocess.run(["jack_connect", f"{client}:out_0", f"{client}:in_0"], check=True, capture_output=True)
    deadline = time.monotonic() + seconds
    done.wait(seconds)
    while time.monotonic() < deadline and len(heard) < 2:
        time.sleep(0.05)
    listener.wait_idle(10.0)
    player.stop()
    player.close()
    status = mic.status()
    mic.stop()
    listener.stop()
    return {
        "heard": [h.to_dict() for h in heard],
        "status": status,
        "frames_written": mic.ring.written,
    }


if __name__ == "__main__":
    result = main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
