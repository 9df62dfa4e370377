"""The stage view: what copilot heard, decided and is about to do, on any screen nearby — and a way to stop it.

Two halves, in two processes, so that no number of phones watching can delay a send:
- in the session's process, `publisher` reads `bridge.telemetry` on a thread of its own (a snapshot 20
  times a second, every decision and every heard utterance as it happens, meters and motion a few times
  a second) and writes it as lines to the view's process; commands come back the same way and are
  submitted to the scheduler with source `remote`.
- the view's process (`server`, Starlette + uvicorn + sse-starlette) serves the page (package data, no
  CDN), the Server-Sent Events stream, the write endpoints, the access rules (`access`) and the mDNS
  advertisement (`discovery`).
`terminal` draws the compact status line of `copilot run` on a TTY from the same telemetry.
"""
