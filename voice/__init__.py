"""Voice: microphone → end-pointed utterances → Whisper → the command grammar in `intents/`.

    capture      the microphone through a numba cfunc ring (no Python on the audio thread), files
    vad          Silero VAD streamed frame by frame (energy fallback) · endpoint   where a command starts and ends
    asr          faster-whisper tuned for short commands, and its sentence scorer
    understand   Whisper's readings → the one intent they most likely mean (or none)
    constrained  grammar-constrained rescue: which command sentence the audio itself supports
    wording      a command alignment back into words, the way Whisper would write it
    listener     frames in, intents out, on a worker thread of its own

The grammar, the parser and the intent schema stay in `intents/` (pure text, no threads, no models);
this wing produces the text and the confidences they judge. docs/voice.md is the user guide.
"""
