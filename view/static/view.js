// The stage view: one Server-Sent Events stream in, a few POSTs out. No libraries, no network beyond the page.
//
// Time: each `state` carries a clock sample (t = the session's clock in seconds, beat, tempo). The page
// measures offset = arrival − t for every sample and keeps the smallest of the last few seconds (the
// sample that travelled fastest); the beat at any instant is then beat + (now − offset − t) · tempo / 60.
// The wheel, the counters and the countdowns are drawn from that every frame, so they move smoothly at
// the display's rate whatever the stream's.
"use strict";
(() => {
  const token = new URLSearchParams(location.search).get("token") || "";
  const query = token ? "?token=" + encodeURIComponent(token) : "";
  const $ = (id) => document.getElementById(id);
  const OFFSET_WINDOW_S = 8;
  const KEEP_DECISIONS = 12;
  const CURVES = {
    linear: (t) => t,
    hold: (t) => (t < 1 ? 0 : 1),
    ease_in: (t) => t * t,
    ease_out: (t) => 1 - (1 - t) * (1 - t),
    smooth: (t) => t * t * (3 - 2 * t),
    exp: (t) => (Math.pow(2, 4 * t) - 1) / 15,
  };
  const COLOURS = ["#39d0ff", "#c38bff", "#ffcc33", "#3ddc84", "#ff7aa8", "#ff9f43"];

  // -- the clock, from the stream's samples -------------------------------------------------------------
  const clock = { have: false, t: 0, beat: 0, tempo: 120, quantum: 4, phrase: 32, offset: 0, samples: [] };

  function sample(s, arrived) {
    const d = arrived - s.t;
    clock.samples.push([arrived, d]);
    while (clock.samples.length > 1 && clock.samples[0][0] < arrived - OFFSET_WINDOW_S) clock.samples.shift();
    let best = Infinity;
    for (const [, off] of clock.samples) best = Math.min(best, off);
    Object.assign(clock, { have: true, t: s.t, beat: s.beat, tempo: s.tempo, quantum: s.quantum,
                           phrase: s.phrase_beats || s.quantum * 8, offset: best });
  }
  const hostNow = (ms) => ms / 1000 - clock.offset;
  const beatAt = (ms) => clock.beat + (hostNow(ms) - clock.t) * clock.tempo / 60;

  // -- what the page shows (kept here; the DOM is redrawn when it changes) ------------------------------
  let state = null;
  let queueRows = [];   // [{el, due}] countdowns redrawn every frame
  let pendingRows = []; // [{el, expiresAt}]
  let moves = [];       // [{playhead, start, end, status}] envelope drawings
  let lastKeys = {};
  const marks = [];     // decisions received, waiting for the frame that paints them
  const view = window.stageView = {
    frames: [], paints: [], decisions: 0, states: 0, clock,
    beat: () => (clock.have ? beatAt(performance.now()) : null),
    beatAt, hostNow, origin: performance.timeOrigin,
  };

  function changed(name, value) {
    const key = JSON.stringify(value);
    if (lastKeys[name] === key) return false;
    lastKeys[name] = key;
    return true;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k.startsWith("data-")) node.setAttribute(k, v);
      else if (k === "onclick") node.addEventListener("click", v);
      else node[k] = v;
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  // -- writes ------------------------------------------------------------------------------------------
  function toast(text, bad) {
    const t = $("toast");
    t.textContent = text;
    t.className = bad ? "bad" : "";
  }

  async function post(path, body, type) {
    const headers = { "X-Copilot-Token": token };
    if (type) headers["Content-Type"] = type;
    try {
      const r = await fetch(path, { method: "POST", headers, body, cache: "no-store" });
      const text = await r.text();
      let answer = {};
      try { answer = JSON.parse(text); } catch (e) { answer = { reason: text.trim() }; }
      if (r.status === 403) toast("no token on this page: open the link copilot printed", true);
      else toast(answer.reason || r.statusText, answer.verdict === "refused" || r.status >= 400);
      return answer;
    } catch (e) {
      toast("cannot reach copilot: " + e.message, true);
      return {};
    }
  }
  const cancel = (id) => post("/cancel/" + encodeURIComponent(id));
  const confirmYes = (id) => post("/confirm", JSON.stringify({ id }), "application/json");
  $("panic").addEventListener("click", () => post("/panic"));
  $("say").addEventListener("submit", (e) => {
    e.preventDefault();
    const words = $("words").value.trim();
    if (words) post("/intent", words, "text/plain").then(() => { $("words").value = ""; });
  });

  // -- state: 20 times a second -------------------------------------------------------------------------
  function onState(s, arrived) {
    sample(s, arrived);
    state = s;
    view.states++;
    $("tempo").textContent = s.tempo.toFixed(1);
    $("peers").textContent = s.link_peers ? `Link · ${s.link_peers} peer${s.link_peers === 1 ? "" : "s"}` : "";
    const [queue, envelopes] = split(s.queue);
    if (changed("queue", queue.map((a) => [a.id, a.reason, a.due]))) drawQueue(queue);
    if (changed("moves", envelopes.map((a) => [a.id, a.end, a.reason]))) drawMoves(envelopes);
    if (changed("pending", s.pending.map((p) => [p.id, p.reason]))) drawPending(s.pending, s.t);
    const mixes = s.transitions || [];
    if (changed("mixes", mixes.map((m) => [m.id, m.state, m.start, m.end]))) drawMixes(mixes);
    drawDecks(s);
  }

  // Envelopes that travel (start < end) are drawn under "In motion", grouped by their intent; a jump (one
  // breakpoint, e.g. a drop putting the filter back) belongs to the intent's other actions and is only
  // listed on its own when its intent has nothing else to show.
  function split(items) {
    const spans = (a) => a.envelope && a.envelope.length > 1 && a.end > a.envelope[0][0];
    const shown = new Set(items.filter((a) => !a.envelope || spans(a)).map((a) => a.intent));
    const queue = items.filter((a) => !a.envelope || (!spans(a) && !shown.has(a.intent)));
    return [queue, items.filter(spans)];
  }

  function when(ahead) {
    if (ahead <= 0.05) return "now";
    return (ahead < 10 ? ahead.toFixed(1) : Math.round(ahead)) + "♩";
  }

  function drawQueue(items) {
    const list = $("queue");
    list.replaceChildren();
    queueRows = [];
    for (const a of items) {
      const countdown = el("span", { class: "when" });
      const what = a.what && a.what !== a.kind ? a.what : `${a.kind}${a.deck ? " deck " + a.deck : ""}`;
      // the action's own kind when the words are the intent's (a build's DROP marker at its end)
      const kind = what.toUpperCase().includes(a.kind.replace("_", " ")) ? null : el("span", { class: "kind" }, a.kind);
      const row = el("li", { "data-id": a.id, "data-kind": a.kind },
        countdown,
        el("span", { class: "what" }, el("span", { class: "src" }, a.source || ""), el("b", {}, what), kind,
           el("span", { class: "why" }, a.reason || "")),
        el("button", { class: "x", type: "button", title: "cancel", onclick: () => cancel(a.intent || a.id) }, "✕"));
      list.append(row);
      queueRows.push({ el: countdown, due: a.due });
    }
    $("queue-empty").hidden = items.length > 0;
  }

  // Transitions the mixer planned: which decks, which template, why, and a countdown to the phrase line
  // (then the bars done); their curves are drawn under "In motion". ✕ glides back what moved.
  let mixRows = [];     // [{el, start, end, bars}]
  function drawMixes(items) {
    const list = $("mixes");
    list.replaceChildren();
    mixRows = [];
    for (const m of items) {
      const status = el("span", { class: "when" });
      const name = String(m.template || "mix").replace(/_/g, " ");
      list.append(el("li", { "data-id": m.intent_id, "data-transition": m.id },
        status,
        el("span", { class: "what" }, el("span", { class: "src" }, m.source || ""),
           el("b", {}, `${name} ${m.out} → ${m.in}`), el("span", { class: "kind" }, `${m.bars} bars`),
           el("span", { class: "why" }, m.why || "")),
        el("button", { class: "x", type: "button", title: "cancel: what moved glides back",
                       onclick: () => cancel(m.intent_id) }, "✕")));
      mixRows.push({ el: status, start: m.start, end: m.end, bars: m.bars });
    }
    $("mix-card").hidden = items.length === 0;
  }

  function drawPending(items, sampledAt) {
    const list = $("pending");
    list.replaceChildren();
    pendingRows = [];
    for (const p of items) {
      const left = el("span", { class: "why" });
      list.append(el("li", { "data-id": p.id },
        el("span", { class: "what" }, el("span", { class: "src" }, p.source), el("b", {}, p.what),
           el("span", { class: "why" }, p.reason), left),
        el("button", { class: "yes", type: "button", onclick: () => confirmYes(p.id) }, "YES"),
        el("button", { class: "x", type: "button", title: "no", onclick: () => cancel(p.id) }, "✕")));
      pendingRows.push({ el: left, expiresAt: sampledAt + p.expires_in });
    }
    $("confirm-card").hidden = items.length === 0;
  }

  // Every action with an envelope is drawn, grouped by the intent it came from: a filter move, a build's
  // filter and send, a transition's crossfader and EQ — whatever the planner makes, drawn the same way.
  function drawMoves(actions) {
    const groups = new Map();
    for (const a of actions) {
      const key = a.intent || a.id;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(a);
    }
    const box = $("moves");
    box.replaceChildren();
    moves = [];
    for (const [key, acts] of groups) {
      const start = Math.min(...acts.map((a) => a.envelope[0][0]));
      const end = Math.max(...acts.map((a) => a.end));
      const span = Math.max(end - start, 1e-6);
      const svgNS = "http://www.w3.org/2000/svg";
      const svg = document.createElementNS(svgNS, "svg");
      svg.setAttribute("viewBox", "0 0 1000 200");
      svg.setAttribute("preserveAspectRatio", "none");
      const legend = el("div", { class: "legend" });
      acts.forEach((a, i) => {
        const colour = COLOURS[i % COLOURS.length];
        const path = document.createElementNS(svgNS, "path");
        path.setAttribute("d", envelopePath(a.envelope, start, span, a.end));
        path.setAttribute("fill", "none");
        path.setAttribute("stroke", colour);
        path.setAttribute("stroke-width", "6");
        path.setAttribute("vector-effect", "non-scaling-stroke");
        path.setAttribute("data-param", a.param || "");
        svg.append(path);
        legend.append(el("span", { style: "" }, el("b", { style: `color:${colour}` }, "━ "),
                         `${a.param || a.kind}${a.deck ? " " + a.deck : ""}`));
      });
      const playhead = document.createElementNS(svgNS, "line");
      playhead.setAttribute("y1", "0"); playhead.setAttribute("y2", "200");
      playhead.setAttribute("stroke", "#fff"); playhead.setAttribute("stroke-width", "3");
      playhead.setAttribute("vector-effect", "non-scaling-stroke");
      svg.append(playhead);
      const status = el("span", { class: "when" });
      const first = acts[0];
      box.append(el("div", { class: "move", "data-intent": key },
        el("div", { class: "head" }, status,
           el("span", { class: "what" }, el("span", { class: "src" }, first.source || ""),
              el("b", {}, first.what && first.what !== first.kind ? first.what : "envelope"),
              el("span", { class: "why" }, first.reason || "")),
           el("button", { class: "x", type: "button", title: "cancel", onclick: () => cancel(first.intent || first.id) }, "✕")),
        svg, legend));
      moves.push({ playhead, status, start, end, span });
    }
    $("moves-card").hidden = groups.size === 0;
  }

  function envelopePath(points, start, span, end) {
    const x = (b) => ((b - start) / span) * 1000;
    const y = (v) => 195 - Math.max(0, Math.min(1, v)) * 190;
    let d = `M${x(points[0][0]).toFixed(1)},${y(points[0][1]).toFixed(1)}`;
    for (let i = 0; i + 1 < points.length; i++) {
      const [b0, v0, curve] = points[i];
      const [b1, v1] = points[i + 1];
      const shape = CURVES[curve] || CURVES.linear;
      for (let k = 1; k <= 24; k++) {
        const t = k / 24;
        d += ` L${x(b0 + (b1 - b0) * t).toFixed(1)},${y(v0 + (v1 - v0) * shape(t)).toFixed(1)}`;
      }
    }
    const last = points[points.length - 1];
    if (end > last[0]) d += ` L${x(end).toFixed(1)},${y(last[1]).toFixed(1)}`;
    return d;
  }

  function drawDecks(s) {
    const names = Object.keys(s.decks).filter((n) => {
      const d = s.decks[n];
      return n === "A" || n === "B" || d.track || d.playing || d.loaded;
    });
    const box = $("decks");
    if (changed("deck-names", names)) {
      box.replaceChildren(...names.map((n) => el("article", { class: "deck", "data-deck": n },
        el("header", {}, el("span", { class: "letter" }, n), el("span", { class: "title" }),
           el("span", { class: "badge loop", hidden: true }, "LOOP")),
        el("dl", {}, ...[["bpm", "BPM"], ["key", "key"], ["pos", "position"], ["left", "time left"],
                         ["phrase", "next phrase"], ["truth", "from"]]
          .map(([k, label]) => el("div", {}, el("dt", {}, label), el("dd", { class: k })))))));
    }
    for (const n of names) {
      const d = s.decks[n];
      const card = box.querySelector(`[data-deck="${n}"]`);
      if (!card) continue;
      card.classList.toggle("playing", !!d.playing);
      set(card, ".title", (d.playing ? "▶ " : "■ ") + (d.track || (d.loaded ? "loaded" : d.playing ? "playing" : "empty")));
      card.querySelector(".loop").hidden = !d.loop;
      set(card, ".bpm", d.bpm ? Number(d.bpm).toFixed(1) : "—");
      set(card, ".key", d.key || "—");
      set(card, ".pos", d.position === null || d.position === undefined ? "—" : barBeat(d.position, s.quantum));
      set(card, ".left", d.time_left === null || d.time_left === undefined ? "—" : minutes(d.time_left));
      set(card, ".phrase", d.next_phrase === null || d.next_phrase === undefined ? "—" : when(d.next_phrase));
      set(card, ".truth", d.truth === "host" ? "host" : d.truth === "own" ? "copilot" : "—");
    }
  }
  function set(root, sel, text) {
    const node = root.querySelector(sel);
    if (node && node.textContent !== text) node.textContent = text;
  }
  function barBeat(beats, q) {
    const bar = Math.floor(beats / q);
    return `${bar + 1}.${Math.floor(beats - bar * q) + 1}`;
  }
  function minutes(s) {
    const m = Math.floor(s / 60);
    return `${m}:${String(Math.floor(s - m * 60)).padStart(2, "0")}`;
  }

  // -- events as they happen ----------------------------------------------------------------------------
  function onDecision(d, arrived) {
    view.decisions++;
    const mark = { refused: "✗", awaiting_confirm: "?", scheduled: "✓", done: "✓" }[d.verdict] || "·";
    const row = el("li", { class: d.verdict, "data-id": d.id },
      el("span", { class: "mark" }, mark),
      el("span", { class: "what" }, el("span", { class: "src" }, d.source), el("b", {}, d.what),
         el("span", { class: "why" }, d.reason)));
    const list = $("decisions");
    list.prepend(row);
    while (list.children.length > KEEP_DECISIONS) list.lastChild.remove();
    marks.push({ id: d.id, at: d.at, arrived });
  }

  function onHeard(h) {
    const conf = typeof h.confidence === "number" ? h.confidence : 0;
    $("heard").replaceChildren(el("div", { class: "text" }, `“${h.text || ""}”`),
      el("div", { class: "muted" }, `${Math.round(conf * 100)} % sure` + (h.intent ? ` · ${h.intent.kind}` : ` · ${h.reason || "not a command"}`)),
      el("div", { class: "conf" }, el("div", { style: `width:${Math.round(conf * 100)}%` })));
    $("heard-card").hidden = false;
  }

  function meterRow(label, value, lo, hi, text, hot) {
    const frac = value === null || value === undefined ? 0 : Math.max(0, Math.min(1, (value - lo) / (hi - lo)));
    return el("div", { class: "meter" }, el("span", {}, label),
      el("div", { class: "bar" }, el("div", { class: "fill" + (hot ? " hot" : ""), style: `width:${(frac * 100).toFixed(1)}%` })),
      el("span", { class: "num" }, text));
  }

  function onMeters(m) {
    const rows = [];
    for (const [name, r] of Object.entries(m)) {
      const db = r.peak_db;
      rows.push(el("div", { class: "muted" }, name));
      rows.push(meterRow("peak", db, -60, 0, db === null ? "—" : db.toFixed(1) + " dB", db !== null && db > -1));
      const st = r.short_term_lufs;
      rows.push(meterRow("short-term", st, -50, 0, st === null ? "—" : st.toFixed(1) + " LUFS", false));
      if (r.gain_reduction_db) rows.push(meterRow("limiter", -r.gain_reduction_db, 0, 12, r.gain_reduction_db.toFixed(1) + " dB", true));
    }
    $("meters").replaceChildren(...rows);
    $("meters-card").hidden = rows.length === 0;
  }

  function onMotion(m) {
    const rows = [];
    for (const [name, p] of Object.entries(m)) {
      const dial = el("canvas", { width: 64, height: 64, title: "ψ: where in the beat the body moves" });
      drawDial(dial, p.psi || 0, p.lock || 0);
      rows.push(el("div", { class: "performer", "data-performer": name }, dial,
        el("div", { class: "bars" }, el("b", {}, name + (p.deck ? " · deck " + p.deck : "")),
          meterRow("energy", p.energy, 0, 1, (p.energy || 0).toFixed(2), false),
          meterRow("tension", p.tension, 0, 1, (p.tension || 0).toFixed(2), false))));
    }
    $("motion").replaceChildren(...rows);
    $("motion-card").hidden = rows.length === 0;
  }

  function drawDial(canvas, psi, lock) {
    const g = canvas.getContext("2d");
    const r = 28;
    g.clearRect(0, 0, 64, 64);
    g.lineWidth = 5;
    g.strokeStyle = "#2a2f36";
    g.beginPath(); g.arc(32, 32, r, 0, 2 * Math.PI); g.stroke();
    g.strokeStyle = lock > 0.5 ? "#3ddc84" : "#ffcc33";
    const a = -Math.PI / 2 + psi * 2 * Math.PI;
    g.beginPath(); g.moveTo(32, 32); g.lineTo(32 + r * Math.cos(a), 32 + r * Math.sin(a)); g.stroke();
  }

  function onLateness(l) {
    const box = $("hist");
    const counts = l.histogram || [];
    const top = Math.max(1, ...counts);
    box.replaceChildren(...counts.map((c, i) => {
      const lo = l.edges_ms[i];
      const bar = el("div", { title: `${c} sends ≥ ${lo} ms` }, el("span", {}, lo < 1 ? String(lo).replace(/^0/, "") : String(lo)));
      bar.style.height = `${Math.max(1, (c / top) * 100)}%`;
      if (lo >= 1) bar.style.background = "#ff4d4d";
      else if (lo >= 0.5) bar.style.background = "#ffcc33";
      return bar;
    }));
    $("late").innerHTML = l.count
      ? `lateness p50 <b>${l.p50_ms.toFixed(3)}</b> · p99 <b>${l.p99_ms.toFixed(3)}</b> · max <b>${l.max_ms.toFixed(2)}</b> ms <span>(${l.window} latest of ${l.count} sends)</span>`
      : "no sends yet";
  }

  // -- every frame ------------------------------------------------------------------------------------------
  const wheel = $("wheel");
  const g = wheel.getContext("2d");
  function sizeWheel() {
    const ratio = window.devicePixelRatio || 1;
    const side = Math.round(wheel.getBoundingClientRect().width * ratio) || 300;
    if (wheel.width !== side) { wheel.width = side; wheel.height = side; }
  }
  window.addEventListener("resize", sizeWheel);
  sizeWheel();

  function drawWheel(beat) {
    const q = clock.quantum;
    const W = wheel.width, c = W / 2, r = W * 0.42;
    const phase = ((beat % q) + q) % q;
    const phraseFrac = (((beat % clock.phrase) + clock.phrase) % clock.phrase) / clock.phrase;
    const downbeat = phase < 0.12;
    g.clearRect(0, 0, W, W);
    g.lineCap = "round";
    g.lineWidth = W * 0.035;                       // outer ring: where in the phrase
    g.strokeStyle = "#1f252d";
    g.beginPath(); g.arc(c, c, r + W * 0.05, 0, 2 * Math.PI); g.stroke();
    g.strokeStyle = "#c38bff";
    g.beginPath(); g.arc(c, c, r + W * 0.05, -Math.PI / 2, -Math.PI / 2 + phraseFrac * 2 * Math.PI); g.stroke();
    g.lineWidth = W * 0.09;                        // main ring: where in the bar
    g.strokeStyle = "#1b2027";
    g.beginPath(); g.arc(c, c, r - W * 0.04, 0, 2 * Math.PI); g.stroke();
    g.strokeStyle = downbeat ? "#ffffff" : "#39d0ff";
    g.beginPath(); g.arc(c, c, r - W * 0.04, -Math.PI / 2, -Math.PI / 2 + (phase / q) * 2 * Math.PI); g.stroke();
    g.lineWidth = W * 0.012;                       // a tick on every beat
    for (let i = 0; i < q; i++) {
      const a = -Math.PI / 2 + (i / q) * 2 * Math.PI;
      g.strokeStyle = i === 0 ? "#ffffff" : "#5b6470";
      g.beginPath();
      g.moveTo(c + Math.cos(a) * (r - W * 0.11), c + Math.sin(a) * (r - W * 0.11));
      g.lineTo(c + Math.cos(a) * (r + W * 0.01), c + Math.sin(a) * (r + W * 0.01));
      g.stroke();
    }
    const a = -Math.PI / 2 + (phase / q) * 2 * Math.PI;   // the hand
    g.strokeStyle = "#ffffff";
    g.lineWidth = W * 0.02;
    g.beginPath(); g.moveTo(c, c); g.lineTo(c + Math.cos(a) * (r - W * 0.02), c + Math.sin(a) * (r - W * 0.02)); g.stroke();
    g.fillStyle = downbeat ? "#ffffff" : "#39d0ff";
    g.beginPath(); g.arc(c, c, W * 0.06 * (1 + (1 - (phase % 1)) * 0.25), 0, 2 * Math.PI); g.fill();
  }

  function drawCounters(beat) {
    const q = clock.quantum, p = clock.phrase;
    const bar = Math.floor(beat / q);
    const inBar = Math.floor(beat - bar * q);
    const phrase = Math.floor(beat / p);
    const barInPhrase = Math.floor((beat - phrase * p) / q);
    const barText = String(bar + 1), beatText = "." + (inBar + 1);
    if ($("bar").textContent !== barText) $("bar").textContent = barText;
    if ($("beatinbar").textContent !== beatText) $("beatinbar").textContent = beatText;
    const phraseText = `phrase ${phrase + 1} · bar ${barInPhrase + 1} of ${Math.round(p / q)}`;
    if ($("phrase").textContent !== phraseText) $("phrase").textContent = phraseText;
  }

  function drawCountdowns(beat, nowMs) {
    for (const row of queueRows) {
      const ahead = row.due - beat;
      const text = when(ahead);
      if (row.el.textContent !== text) row.el.textContent = text;
      row.el.classList.toggle("soon", ahead < clock.quantum);
    }
    for (const row of pendingRows) {
      const left = Math.max(0, row.expiresAt - hostNow(nowMs));
      const text = `answer within ${left.toFixed(1)} s`;
      if (row.el.textContent !== text) row.el.textContent = text;
    }
    for (const m of mixRows) {
      const bar = Math.min(m.bars, Math.floor((beat - m.start) / clock.quantum) + 1);
      const text = beat < m.start ? when(m.start - beat) : beat <= m.end ? `bar ${bar}/${m.bars}` : "done";
      if (m.el.textContent !== text) m.el.textContent = text;
    }
    for (const m of moves) {
      const x = Math.max(0, Math.min(1, (beat - m.start) / m.span)) * 1000;
      m.playhead.setAttribute("x1", x.toFixed(1));
      m.playhead.setAttribute("x2", x.toFixed(1));
      const text = beat < m.start ? when(m.start - beat) : beat <= m.end ? "in progress" : "done";
      if (m.status.textContent !== text) m.status.textContent = text;
    }
  }

  function frame() {
    const now = performance.now();
    if (clock.have) {
      const beat = beatAt(now);
      drawWheel(beat);
      drawCounters(beat);
      drawCountdowns(beat, now);
      view.frames.push([now, beat]);
      if (view.frames.length > 1200) view.frames.splice(0, view.frames.length - 1200);
    }
    while (marks.length) view.paints.push({ ...marks.shift(), painted: now });
    if (view.paints.length > 2000) view.paints.splice(0, view.paints.length - 2000);
    requestAnimationFrame(frame);
  }
  requestAnimationFrame(frame);

  // -- the stream -------------------------------------------------------------------------------------------
  function connect() {
    const es = new EventSource("/events" + query);
    const on = (name, fn) => es.addEventListener(name, (e) => {
      const arrived = performance.now() / 1000;
      try { fn(JSON.parse(e.data), arrived); } catch (err) { console.error(name, err); }
    });
    on("state", (s, arrived) => onState(s, arrived));
    on("decision", (d) => onDecision(d, performance.now()));
    on("heard", onHeard);
    on("meters", onMeters);
    on("motion", onMotion);
    on("lateness", onLateness);
    es.onopen = () => { $("conn").className = "dot on"; };
    es.onerror = () => { $("conn").className = "dot"; };
  }
  connect();
})();
