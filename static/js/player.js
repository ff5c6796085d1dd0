// The media of pages/_media.html: play and seek from segments, transcript lines and frames; the
// timeline's playhead; the playing segment highlighted; keys; a waveform from stored peaks; PDF
// pages; image regions. The review page's corrections (media-edit.js) use `#media.player`.

const root = document.getElementById("media");
if (root) start(root);

function clock(seconds) {
  const tenths = Math.round(Math.max(0, seconds) * 10);
  const hours = Math.floor(tenths / 36000);
  const minutes = Math.floor((tenths % 36000) / 600);
  const secs = Math.floor((tenths % 600) / 10);
  const rest = `${String(secs).padStart(2, "0")}.${tenths % 10}`;
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${rest}` : `${minutes}:${rest}`;
}

function start(root) {
  const kind = root.dataset.kind;
  const available = root.dataset.available === "true";
  const media = document.getElementById("media-element");
  const total = Number(root.dataset.duration) || 0;
  const fps = Number(root.dataset.fps) || 25;
  const playhead = document.getElementById("playhead");
  const timeLabel = document.getElementById("player-time");
  const toggle = document.getElementById("play-toggle");
  const loopButton = document.getElementById("loop-toggle");
  const speed = document.getElementById("player-speed");
  const tableWrap = document.getElementById("seg-table-wrap");
  const errorBox = document.getElementById("media-error");
  const speeds = [0.5, 0.75, 1, 1.25, 1.5, 1.75, 2];
  let loopIndex = null;
  let selected = null;
  let playingKey = "";
  let pdf = null; // {show(page), page, pages} once a PDF is open

  // Segments are read from the table's rows, which media-edit.js redraws after each edit.
  let cache = null;
  const segments = () => {
    if (!cache) {
      cache = [...document.querySelectorAll("#seg-rows tr[data-index]")].map((row) => ({
        index: Number(row.dataset.index),
        row,
        start: row.dataset.start === undefined ? null : Number(row.dataset.start),
        end: row.dataset.end === undefined ? null : Number(row.dataset.end),
        page: Number(row.dataset.page) || null,
        para: Number(row.dataset.para) || null,
      }));
    }
    return cache;
  };
  const timed = () => segments().filter((s) => s.start !== null);
  const byIndex = (index) => segments().find((s) => s.index === index);

  const showError = (text) => {
    errorBox.textContent = text;
    errorBox.hidden = false;
  };

  const now = () => (media ? media.currentTime : 0);

  function seek(time, play = true) {
    if (!media || !available || !Number.isFinite(time)) return;
    media.currentTime = Math.max(0, time);
    if (play) media.play().catch(() => {});
    update();
  }

  // A video is brought back into view when a row or line far below it is played.
  function reveal() {
    if (kind !== "video" || !media || !available) return;
    const box = media.getBoundingClientRect();
    const seen = Math.min(box.bottom, window.innerHeight) - Math.max(box.top, 0);
    if (seen < box.height / 2) media.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }

  function select(index) {
    selected = index;
    for (const node of document.querySelectorAll(".selected[data-index]")) node.classList.remove("selected");
    if (index !== null) {
      for (const node of document.querySelectorAll(`[data-index="${index}"]`)) {
        if (node.matches("tr, .seg-block")) node.classList.add("selected");
      }
    }
    root.dispatchEvent(new CustomEvent("segment-select", { detail: { index } }));
  }

  // Go to a segment: its time for media, its page for a PDF, its paragraph for a text document.
  function go(segment, play = true) {
    select(segment.index);
    if (segment.start !== null && media) seek(segment.start, play);
    else if (segment.page && pdf) pdf.show(segment.page);
    else if (segment.para) showParagraph(segment.para);
    if (loopIndex !== null) setLoop(true);
  }

  function step(direction) {
    const list = kind === "pdf" || !media ? segments().filter((s) => s.page || s.para) : timed();
    if (!list.length) return;
    let target;
    if (media) {
      const t = now();
      const starts = [...list].sort((a, b) => a.start - b.start);
      target = direction > 0
        ? starts.find((s) => s.start > t + 0.05)
        : [...starts].reverse().find((s) => s.start < t - 0.5) ?? starts[0];
    } else {
      const position = list.findIndex((s) => s.index === selected);
      target = list[Math.min(list.length - 1, Math.max(0, position + direction))];
      if (position === -1) target = list[direction > 0 ? 0 : list.length - 1];
    }
    if (target) go(target, media ? !media.paused : false);
  }

  function setLoop(on) {
    if (!loopButton) return;
    if (on) {
      const t = now();
      const current = byIndex(selected) ?? timed().find((s) => s.start <= t && t < s.end);
      loopIndex = current && current.end !== null ? current.index : null;
    } else {
      loopIndex = null;
    }
    loopButton.setAttribute("aria-pressed", String(loopIndex !== null));
    const looped = byIndex(loopIndex);
    loopButton.textContent = looped ? `Looping ${clock(looped.start)} – ${clock(looped.end)}` : "Loop segment";
  }

  function setSpeed(rate) {
    if (!media) return;
    media.playbackRate = rate;
    if (speed) speed.value = String(rate);
  }

  function keepInView(row) {
    if (!tableWrap || !row) return;
    const top = row.offsetTop - tableWrap.querySelector("thead").offsetHeight;
    const bottom = row.offsetTop + row.offsetHeight;
    if (top < tableWrap.scrollTop || bottom > tableWrap.scrollTop + tableWrap.clientHeight) {
      tableWrap.scrollTop = Math.max(0, top - tableWrap.clientHeight / 3);
    }
  }

  // The playhead, the clock, the playing segment and transcript line, and the loop.
  function update() {
    if (!media) return;
    const t = now();
    const length = total || media.duration || 0;
    if (playhead && length) playhead.style.left = `${Math.min(100, (100 * t) / length)}%`;
    if (timeLabel) timeLabel.textContent = `${clock(t)} / ${clock(length)}`;
    if (toggle) {
      toggle.textContent = media.paused ? "▶ Play" : "❚❚ Pause";
      toggle.setAttribute("aria-label", media.paused ? "Play" : "Pause");
    }
    const looped = byIndex(loopIndex);
    if (looped && !media.paused && (t >= looped.end - 0.03 || t < looped.start - 0.5)) {
      media.currentTime = looped.start;
    }
    const playing = timed().filter((s) => s.start <= t && t < (s.end ?? s.start));
    const key = playing.map((s) => s.index).join(",");
    if (key !== playingKey) {
      playingKey = key;
      for (const node of document.querySelectorAll("#seg-rows tr.playing, .seg-block.playing")) {
        node.classList.remove("playing");
        node.removeAttribute("aria-current");
      }
      for (const s of playing) {
        s.row.classList.add("playing");
        s.row.setAttribute("aria-current", "true");
        document.getElementById(`seg-block-${s.index}`)?.classList.add("playing");
      }
      if (playing.length) keepInView(playing[0].row);
    }
    // The transcript line being spoken: the last one that starts before now.
    let current = null;
    for (const line of lines) {
      if (line.time > t + 0.05) break;
      current = line.node;
    }
    if (current !== currentLine) {
      currentLine?.classList.remove("playing");
      current?.classList.add("playing");
      currentLine = current;
    }
  }
  const lines = [...document.querySelectorAll("#transcript li")]
    .map((node) => ({ node, time: Number(node.querySelector("[data-seek]")?.dataset.seek) }))
    .filter((line) => Number.isFinite(line.time))
    .sort((a, b) => a.time - b.time);
  let currentLine = null;

  let frame = 0;
  const tick = () => {
    update();
    frame = media && !media.paused ? requestAnimationFrame(tick) : 0;
  };

  // A signed URL lasts MEDIA_SIGNED_URL_EXPIRY (an hour). A page left open longer, whose next
  // range request is refused, goes on from the signed-in URL at the same second.
  let wasPlaying = false;
  function fallBack(element) {
    const fallback = element.dataset.fallbackSrc;
    if (!fallback || element.getAttribute("src") === fallback) return false;
    const at = element.currentTime || 0; // an image has none
    const resume = wasPlaying;
    element.src = fallback;
    element.addEventListener("loadedmetadata", () => {
      if (at) element.currentTime = at;
      if (resume) element.play().catch(() => {});
    }, { once: true });
    return true;
  }
  const image = document.getElementById("image-element");
  image?.addEventListener("error", () => fallBack(image));
  // A refusal can come before this script runs: its error event is gone, its mark is not.
  if (image?.complete && !image.naturalWidth) fallBack(image);

  if (media) {
    media.addEventListener("playing", () => { wasPlaying = true; });
    media.addEventListener("pause", () => { wasPlaying = false; });
    media.addEventListener("play", () => { if (!frame) frame = requestAnimationFrame(tick); });
    for (const name of ["pause", "seeked", "timeupdate", "loadedmetadata", "ratechange"]) {
      media.addEventListener(name, update);
    }
    media.addEventListener("ended", () => {
      const looped = byIndex(loopIndex);
      if (looped) seek(looped.start);
    });
    media.addEventListener("error", () => {
      if (fallBack(media)) return;
      const codes = { 1: "loading was stopped", 2: "a network error", 3: "the file could not be decoded", 4: "the format is not supported or the file was not found" };
      showError(`The media could not be played from ${root.dataset.where}: ${codes[media.error?.code] ?? "unknown error"}. The review still works from the text.`);
    });
    speed?.addEventListener("change", () => setSpeed(Number(speed.value)));
    if (media.error) media.dispatchEvent(new Event("error")); // refused before this script ran
  }

  // Clicks: anything with data-seek, a segment row, a page or paragraph, a player button.
  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    const act = target.closest("[data-act]");
    if (act && root.contains(act)) {
      actions[act.dataset.act]?.();
      return;
    }
    if (target.closest("input, textarea, select, a, label")) return;
    const holder = target.closest("[data-index]");
    if (holder && holder.matches("tr, .seg-block")) {
      const segment = byIndex(Number(holder.dataset.index));
      if (segment) go(segment);
      if (segment?.start !== null) reveal();
      return;
    }
    const seeker = target.closest("[data-seek]");
    if (seeker) {
      seek(Number(seeker.dataset.seek));
      reveal();
    }
    const pager = target.closest("button[data-page]");
    if (pager && pdf) pdf.show(Number(pager.dataset.page));
    const para = target.closest("button[data-para]");
    if (para) showParagraph(Number(para.dataset.para));
  });

  const actions = {
    toggle: () => { if (media) (media.paused ? media.play().catch(() => {}) : media.pause()); },
    back: () => seek(now() - 5, !media?.paused),
    forward: () => seek(now() + 5, !media?.paused),
    "frame-back": () => { media?.pause(); seek(now() - 1 / fps, false); },
    "frame-forward": () => { media?.pause(); seek(now() + 1 / fps, false); },
    previous: () => step(-1),
    next: () => step(1),
    loop: () => setLoop(loopIndex === null),
    slower: () => setSpeed(speeds[Math.max(0, speeds.indexOf(media?.playbackRate ?? 1) - 1)] ?? 1),
    faster: () => setSpeed(speeds[Math.min(speeds.length - 1, speeds.indexOf(media?.playbackRate ?? 1) + 1)] ?? 1),
  };

  // Keys never clash with the decision keys (a, r, c, l, n, s) and wait while a text box has focus.
  const keys = {
    k: "toggle", " ": "toggle", ArrowLeft: "back", ArrowRight: "forward", ",": "frame-back",
    ".": "frame-forward", "[": "previous", "]": "next", o: "loop", "<": "slower", ">": "faster",
  };
  window.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || !available) return;
    const target = event.target;
    if (target instanceof HTMLElement && (target.isContentEditable || target.matches("input, textarea, select"))) return;
    // Space still presses a focused button or link; k always plays and pauses.
    if (event.key === " " && target instanceof HTMLElement && target.matches("button, a, summary")) return;
    let run = null;
    if (media) run = actions[keys[event.key]];
    else if (kind === "pdf" || kind === "text") {
      run = {
        ArrowLeft: pdf && (() => pdf.show(pdf.page - 1)),
        ArrowRight: pdf && (() => pdf.show(pdf.page + 1)),
        "[": () => step(-1),
        "]": () => step(1),
      }[event.key];
    }
    if (!run) return;
    event.preventDefault();
    run();
  }, true);

  root.addEventListener("segments-changed", () => {
    cache = null;
    playingKey = "";
    if (loopIndex !== null && !byIndex(loopIndex)) setLoop(false);
    if (selected !== null && byIndex(selected)) select(selected);
    update();
  });

  // Images: a region and its row light up together.
  const hot = (index, on) => {
    for (const node of document.querySelectorAll(`[data-region="${index}"]`)) {
      if (node.matches(".region, tr")) node.classList.toggle("hot", on);
    }
  };
  for (const name of ["mouseover", "focusin"]) {
    document.addEventListener(name, (event) => {
      const node = event.target instanceof Element && event.target.closest("[data-region]");
      if (node) hot(node.dataset.region, true);
    });
  }
  for (const name of ["mouseout", "focusout"]) {
    document.addEventListener(name, (event) => {
      const node = event.target instanceof Element && event.target.closest("[data-region]");
      if (node) hot(node.dataset.region, false);
    });
  }
  document.addEventListener("click", (event) => {
    const box = event.target instanceof Element && event.target.closest(".region[data-region]");
    if (!box) return;
    const row = document.getElementById(`region-row-${box.dataset.region}`);
    row?.scrollIntoView({ block: "nearest" });
    (row?.querySelector("input") ?? row)?.focus?.();
  });

  function showParagraph(number) {
    const node = document.getElementById(`para-${number}`);
    if (!node) return;
    for (const p of document.querySelectorAll(".text-view p.playing")) p.classList.remove("playing");
    node.classList.add("playing");
    const view = document.getElementById("text-view");
    view.scrollTop = node.offsetTop - view.offsetTop - 8;
  }

  // Deep links (docs/search.md): deeplink.js asks for a time or a page; a time opens paused there.
  let wantedPage = 1;
  document.addEventListener("media:seek", (event) => {
    if (!media || !available) return;
    event.preventDefault();
    const time = Number(event.detail?.seconds);
    const open = () => {
      seek(Math.min(time, media.duration || time), false);
      const at = timed().find((s) => s.start <= time && time < (s.end ?? s.start));
      if (at) select(at.index);
    };
    if (media.readyState >= 1) open();
    else media.addEventListener("loadedmetadata", open, { once: true });
  });
  document.addEventListener("media:page", (event) => {
    wantedPage = Number(event.detail?.page) || 1;
    pdf?.show(wantedPage);
  });

  root.player = {
    kind,
    currentTime: now,
    duration: () => total || media?.duration || 0,
    seek,
    select,
    selected: () => selected,
    page: () => pdf?.page ?? 1,
  };

  update();
  if (!available) return;
  if (kind === "audio") openWaveform(root, media).catch((error) => showError(`The waveform could not be drawn (${error.message}); the audio still plays.`));
  if (kind === "pdf") openPdf(root, () => wantedPage).then((opened) => { pdf = opened; }).catch((error) => showError(`The PDF could not be shown (${error.message}); download it instead.`));
  if (kind === "text") openText(root).catch((error) => showError(`The document could not be shown (${error.message}).`));
}

// The nonce of this page, for the <style> wavesurfer puts in its shadow DOM.
function nonce() {
  return document.querySelector("script[type=module][nonce]")?.nonce ?? "";
}

async function openWaveform(root, media) {
  // Stored peaks and the duration: wavesurfer draws them and never fetches or decodes the file;
  // the <audio> element streams it for playback only.
  const container = document.getElementById("waveform");
  const [{ default: WaveSurfer }, { default: Regions }, { default: Timeline }, data] = await Promise.all([
    import(root.dataset.wavesurfer),
    import(root.dataset.wavesurferRegions),
    import(root.dataset.wavesurferTimeline),
    loadPeaks(root.dataset.peaksUrl, container),
  ]);
  container.replaceChildren();
  const regions = Regions.create();
  const wave = WaveSurfer.create({
    container,
    media,
    peaks: data.peaks,
    duration: data.duration,
    height: 96,
    waveColor: "#8c97a6",
    progressColor: "#2457c5",
    cursorColor: "#d1242f",
    cursorWidth: 2,
    normalize: true,
    dragToSeek: true,
    cspNonce: nonce(),
    plugins: [regions, Timeline.create({ height: 18, style: { fontSize: "11px", color: "#48525e" } })],
  });
  const draw = () => {
    regions.clearRegions();
    for (const row of document.querySelectorAll("#seg-rows tr[data-start][data-end]")) {
      const swatch = row.querySelector(".swatch");
      const colour = swatch ? getComputedStyle(swatch).backgroundColor : "rgb(36, 87, 197)";
      regions.addRegion({
        start: Number(row.dataset.start),
        end: Number(row.dataset.end),
        color: colour.replace("rgb(", "rgba(").replace(")", ", 0.22)"),
        drag: false,
        resize: false,
      });
    }
  };
  wave.on("decode", draw);
  wave.on("ready", draw);
  root.addEventListener("segments-changed", draw);
  root.dataset.waveform = "ready";
  return wave;
}

// The stored peaks; a long file's are computed in the background first (202, Retry-After).
async function loadPeaks(url, container) {
  for (let attempt = 0; attempt < 200; attempt++) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (response.status === 202) {
      const note = container.querySelector(".muted");
      if (note) note.textContent = "The waveform is being computed; the audio plays meanwhile…";
      const wait = Number(response.headers.get("Retry-After")) || 2;
      await new Promise((resolve) => setTimeout(resolve, Math.min(30, Math.max(1, wait)) * 1000));
      continue;
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok || !Array.isArray(data.peaks)) throw new Error(data.error || `HTTP ${response.status}`);
    return data;
  }
  throw new Error("it took too long to compute");
}

async function openPdf(root, firstPage) {
  const pdfjs = await import(root.dataset.pdfjs);
  pdfjs.GlobalWorkerOptions.workerSrc = root.dataset.pdfjsWorker;
  const doc = await pdfjs.getDocument({ url: root.dataset.src, isEvalSupported: false }).promise;
  const canvas = document.getElementById("pdf-canvas");
  const label = document.getElementById("pdf-page");
  const previous = document.getElementById("pdf-prev");
  const next = document.getElementById("pdf-next");
  const state = { page: 1, pages: doc.numPages, show };
  let task = null;

  async function show(number) {
    const page = Math.min(doc.numPages, Math.max(1, Math.round(number) || 1));
    state.page = page;
    label.textContent = `Page ${page} / ${doc.numPages}`;
    previous.disabled = page <= 1;
    next.disabled = page >= doc.numPages;
    for (const row of document.querySelectorAll("#seg-rows tr[data-page]")) {
      row.classList.toggle("playing", Number(row.dataset.page) === page);
    }
    // The extracted text beside it follows, when its pages are known.
    const text = document.getElementById(`text-page-${page}`);
    if (text) {
      for (const other of document.querySelectorAll(".text-page.playing")) other.classList.remove("playing");
      text.classList.add("playing");
      text.parentElement.scrollTop = text.offsetTop; // the box is the page's offset parent
    }
    const pdfPage = await doc.getPage(page);
    if (state.page !== page) return;
    const width = canvas.parentElement.clientWidth || 600;
    const base = pdfPage.getViewport({ scale: 1 });
    const ratio = window.devicePixelRatio || 1;
    const viewport = pdfPage.getViewport({ scale: (width / base.width) * ratio });
    task?.cancel();
    canvas.width = Math.floor(viewport.width);
    canvas.height = Math.floor(viewport.height);
    canvas.style.width = `${Math.floor(viewport.width / ratio)}px`;
    canvas.setAttribute("aria-label", `Page ${page} of ${doc.numPages} of the PDF`);
    task = pdfPage.render({ canvas, canvasContext: canvas.getContext("2d"), viewport });
    try {
      await task.promise;
      canvas.dataset.rendered = String(page);
    } catch (error) {
      if (error?.name !== "RenderingCancelledException") throw error;
    }
  }

  previous.addEventListener("click", () => show(state.page - 1));
  next.addEventListener("click", () => show(state.page + 1));
  // Drawn again to the column's new width when the window changes size.
  let resized = 0;
  let width = canvas.parentElement.clientWidth;
  window.addEventListener("resize", () => {
    clearTimeout(resized);
    resized = setTimeout(() => {
      if (canvas.parentElement.clientWidth !== width) {
        width = canvas.parentElement.clientWidth;
        show(state.page);
      }
    }, 200);
  });
  await show(firstPage());
  return state;
}

async function openText(root) {
  // At most the first megabyte: a document is shown to be read, not to be downloaded.
  const limit = 1024 * 1024;
  const response = await fetch(root.dataset.src, { credentials: "same-origin", headers: { Range: `bytes=0-${limit - 1}` } });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const text = await response.text();
  const view = document.getElementById("text-view");
  view.replaceChildren();
  text.split(/\r?\n\s*\r?\n/).forEach((paragraph, n) => {
    const p = document.createElement("p");
    p.id = `para-${n + 1}`;
    p.textContent = paragraph;
    view.append(p);
  });
  if (response.status === 206 && text.length >= limit - 4) {
    const more = document.createElement("p");
    more.className = "muted small";
    more.textContent = "Only the first megabyte is shown; download the file for the rest.";
    view.append(more);
  }
}
