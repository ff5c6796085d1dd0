// Corrections made on the media of the review page: a segment's label or text, its start or end
// moved to the playhead, a segment deleted or added, a region's label. Each edit is written into
// the corrections box as JSON (docs/corrections.md): `segments` is the whole corrected list,
// `regions` the whole corrected list of result_data.regions. The box's input event then shows the
// diff (htmx) and keeps the draft (the heartbeat), as typing there does.

const PALETTE = 8;

// The same slot as mediaanalysis/pipeline/display.py's label_color: FNV-1a of the UTF-8 bytes.
function labelColor(label) {
  let value = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(String(label).trim().toLowerCase())) {
    value = Math.imul(value ^ byte, 0x01000193) >>> 0;
  }
  return value % PALETTE;
}

function clock(seconds) {
  const tenths = Math.round(Math.max(0, seconds) * 10);
  const hours = Math.floor(tenths / 36000);
  const minutes = Math.floor((tenths % 36000) / 600);
  const rest = `${String(Math.floor((tenths % 600) / 10)).padStart(2, "0")}.${tenths % 10}`;
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${rest}` : `${minutes}:${rest}`;
}

const number = (v) => (typeof v === "number" && Number.isFinite(v) && Math.abs(v) <= 1e9 ? v : null);
const positive = (v) => (Number.isInteger(v) && v > 0 ? v : null);
const isRecord = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const ms = (t) => Math.round(t * 1000) / 1000;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function edit(root, box) {
  const read = (id) => {
    try {
      return JSON.parse(document.getElementById(id)?.textContent ?? "null");
    } catch {
      return null;
    }
  };
  const original = {
    segments: Array.isArray(read("segments-data")) ? read("segments-data") : null,
    regions: Array.isArray(read("regions-data")) ? read("regions-data") : null,
  };
  let working = structuredClone(original);
  const known = new Set((original.segments ?? []).map((s) => JSON.stringify(s)));
  const lowBelow = root.dataset.lowBelow === "" ? null : Number(root.dataset.lowBelow);
  const player = root.player;
  const kind = root.dataset.kind;
  const available = root.dataset.available === "true";
  const status = document.getElementById("edit-status");
  const which = document.getElementById("edit-which");
  const labelInput = document.getElementById("edit-label");
  const textInput = document.getElementById("edit-text");
  const needsSegment = [...root.querySelectorAll("[data-edit=start], [data-edit=end], [data-edit=delete]")];
  let selected = null;
  let writing = false;

  const say = (text, bad = false) => {
    status.textContent = text;
    status.classList.toggle("bad", bad);
  };

  // The corrections box as an object; null while it holds JSON that does not parse.
  const parseBox = () => {
    if (!box.value.trim()) return {};
    try {
      const value = JSON.parse(box.value);
      return isRecord(value) ? value : null;
    } catch {
      return null;
    }
  };

  // Make one edit: refused (and undone) while the box holds broken JSON, so nothing typed there is lost.
  function apply(change, message, { redraw = true } = {}) {
    const corrections = parseBox();
    if (corrections === null) {
      say("The corrections box holds JSON that does not parse: fix or empty it, then correct on the media.", true);
      return false;
    }
    const before = structuredClone(working);
    if (change() === false) {
      working = before;
      return false;
    }
    for (const key of ["segments", "regions"]) {
      if (same(working[key], original[key])) delete corrections[key];
      else corrections[key] = working[key] ?? [];
    }
    const text = Object.keys(corrections).length ? JSON.stringify(corrections, null, 2) : "";
    if (text !== box.value) {
      writing = true;
      box.value = text;
      box.dispatchEvent(new Event("input", { bubbles: true }));
      writing = false;
    }
    if (redraw) draw();
    say(message);
    return true;
  }

  // Typing in the box (or a restored draft) moves the media's view of the corrections along.
  function adopt() {
    const corrections = parseBox();
    if (corrections === null) return;
    const next = {
      segments: Array.isArray(corrections.segments) ? corrections.segments : structuredClone(original.segments),
      regions: Array.isArray(corrections.regions) ? corrections.regions : structuredClone(original.regions),
    };
    if (same(next, working)) return;
    working = next;
    draw();
  }
  box.addEventListener("input", () => { if (!writing) adopt(); });

  // Segments: rows of the table and blocks of the timeline, as pages/_media.html draws them.
  function place(list) {
    const ends = list.filter(isRecord).map((s) => number(s.end)).filter((e) => e !== null && e >= 0);
    const total = Number(root.dataset.duration) || (ends.length ? Math.max(...ends) : 0);
    const laneEnds = [];
    const placed = new Map();
    list.forEach((s, index) => {
      if (!isRecord(s) || !total) return;
      const start = number(s.start);
      const end = number(s.end);
      if (start === null || end === null || start < 0 || end < start) return;
      let lane = laneEnds.findIndex((free) => free <= start);
      if (lane === -1) lane = laneEnds.push(end) - 1;
      laneEnds[lane] = end;
      const left = Math.min(100, (100 * start) / total);
      placed.set(index, { left, width: Math.max(0.4, Math.min(100 - left, (100 * (end - start)) / total)), lane });
    });
    return { placed, lanes: Math.max(1, laneEnds.length) };
  }

  function describe(s, index) {
    let label = s.label;
    let text = s.text;
    if (label === undefined || label === null || label === "") {
      label = text || s.type || `segment ${index + 1}`;
      if (label === text) text = "";
    }
    const confidence = number(s.confidence);
    return {
      label: String(label),
      text: text === undefined || text === null ? "" : String(text),
      confidence,
      low: confidence !== null && lowBelow !== null && confidence < lowBelow,
      color: labelColor(label),
    };
  }

  function row(s, index) {
    const d = describe(s, index);
    const tr = element("tr");
    tr.id = `seg-row-${index}`;
    tr.dataset.index = index;
    const start = number(s.start);
    const end = number(s.end);
    if (start !== null && start >= 0) tr.dataset.start = start;
    if (start !== null && end !== null && start >= 0 && end >= start) tr.dataset.end = end;
    if (positive(s.page)) tr.dataset.page = s.page;
    if (positive(s.paragraph)) tr.dataset.para = s.paragraph;
    tr.classList.toggle("low", d.low);
    tr.classList.toggle("edited", !known.has(JSON.stringify(s)));
    const swatch = element("td");
    swatch.append(element("i", `swatch lc${d.color}`));
    const when = element("td", "nowrap");
    const endText = end !== null && end >= 0 ? clock(end) : String(s.end ?? "");
    if (tr.dataset.start !== undefined) {
      const button = element("button", "seek", `${clock(start)} – ${endText}`);
      button.type = "button";
      button.dataset.seek = start;
      button.setAttribute("aria-label", `Play ${d.label} from ${clock(start)}`);
      when.append(button);
    } else if (tr.dataset.page || tr.dataset.para) {
      const page = tr.dataset.page;
      const button = element("button", "seek", page ? `p. ${page}` : `¶ ${tr.dataset.para}`);
      button.type = "button";
      if (page) button.dataset.page = page;
      else button.dataset.para = tr.dataset.para;
      button.setAttribute("aria-label", page ? `Show page ${page}` : `Show paragraph ${tr.dataset.para}`);
      when.append(button);
    } else {
      when.append(element("span", "muted", s.start === undefined || s.start === null ? "—" : String(s.start)));
    }
    const confidence = element("td", "num", d.confidence === null ? "—" : d.confidence.toFixed(2));
    if (d.low) confidence.append(" ", element("span", "badge needs_changes", "low"));
    const extra = element("td", "small");
    for (const [key, value] of Object.entries(s)) {
      if (["start", "end", "label", "text", "confidence", "page", "paragraph"].includes(key)) continue;
      const item = element("span", "extra");
      item.append(element("span", "muted", `${key}:`), ` ${typeof value === "string" ? value : JSON.stringify(value)}`);
      extra.append(item);
    }
    tr.append(swatch, when, element("td", "seg-label", d.label), element("td", "seg-text", d.text), confidence);
    if (document.querySelector("#seg-table th.other")) tr.append(extra);
    return tr;
  }

  function drawSegments() {
    const body = document.getElementById("seg-rows");
    if (!body) return;
    const list = working.segments ?? [];
    body.replaceChildren(...list.flatMap((s, index) => (isRecord(s) ? [row(s, index)] : [])));
    const timeline = document.getElementById("seg-timeline");
    if (!timeline) return;
    const { placed, lanes } = place(list);
    for (const block of timeline.querySelectorAll(".seg-block")) block.remove();
    timeline.style.height = `calc(${lanes} * var(--lane))`;
    const playhead = document.getElementById("playhead");
    for (const [index, geometry] of placed) {
      const d = describe(list[index], index);
      const block = element("button", `seg-block lc${d.color}`);
      block.type = "button";
      block.id = `seg-block-${index}`;
      block.dataset.index = index;
      block.dataset.seek = list[index].start;
      block.classList.toggle("low", d.low);
      const span = `${clock(list[index].start)} to ${clock(list[index].end)}`;
      block.title = `${d.label}: ${span}${d.low ? " (low confidence)" : ""}`;
      block.setAttribute("aria-label", `${d.label}, ${span}${d.low ? ", low confidence" : ""}`);
      if (d.low) {
        const mark = element("b", "", "!");
        mark.setAttribute("aria-hidden", "true");
        block.append(mark, " ");
      }
      block.append(d.label);
      block.style.left = `${geometry.left}%`;
      block.style.width = `${geometry.width}%`;
      block.style.top = `calc(${geometry.lane} * var(--lane))`;
      timeline.insertBefore(block, playhead);
    }
  }

  // Regions: the boxes over the image and the list's rows.
  function regionBox(region, index) {
    const d = describe(region, index);
    const layer = document.getElementById("region-layer");
    let node = document.getElementById(`region-${index}`);
    if (!node && layer) {
      node = element("button", "region");
      node.type = "button";
      node.id = `region-${index}`;
      node.dataset.region = index;
      node.append(element("span", "region-label"));
      layer.append(node);
    }
    if (!node) return;
    node.className = `region lc${d.color}${d.low ? " low" : ""}`;
    node.querySelector(".region-label").textContent = d.label;
    node.setAttribute("aria-label", `Region ${index + 1}: ${d.label}`);
    const swatch = document.querySelector(`#region-row-${index} .swatch`);
    if (swatch) swatch.className = `swatch lc${d.color}`;
  }

  function drawRegions() {
    const layer = document.getElementById("region-layer");
    const body = document.getElementById("region-rows");
    if (!layer || !body) return;
    layer.replaceChildren();
    const rows = [];
    (working.regions ?? []).forEach((region, index) => {
      if (!isRecord(region)) return;
      const [x, y, w, h] = ["x", "y", "w", "h"].map((k) => number(region[k]));
      if ([x, y, w, h].includes(null) || w <= 0 || h <= 0) return;
      const left = Math.min(Math.max(x, 0), 1);
      const top = Math.min(Math.max(y, 0), 1);
      regionBox(region, index);
      const node = document.getElementById(`region-${index}`);
      node.style.left = `${100 * left}%`;
      node.style.top = `${100 * top}%`;
      node.style.width = `${100 * Math.min(w, 1 - left)}%`;
      node.style.height = `${100 * Math.min(h, 1 - top)}%`;
      const d = describe(region, index);
      const tr = element("tr");
      tr.id = `region-row-${index}`;
      tr.dataset.region = index;
      tr.classList.toggle("low", d.low);
      const swatch = element("td");
      swatch.append(element("i", `swatch lc${d.color}`));
      const labelCell = element("td");
      const input = element("input", "region-label-input");
      input.type = "text";
      input.value = d.label;
      input.maxLength = 200;
      input.dataset.region = index;
      input.setAttribute("aria-label", `Label of region ${index + 1}`);
      labelCell.append(input);
      const confidence = element("td", "num", d.confidence === null ? "—" : d.confidence.toFixed(2));
      const where = element("td", "small mono", [left, top, Math.min(w, 1 - left), Math.min(h, 1 - top)].map((v) => `${(100 * v).toFixed(1)}%`).join(", "));
      const actions = element("td");
      const remove = element("button", "small", "Delete");
      remove.type = "button";
      remove.dataset.regionDelete = index;
      remove.setAttribute("aria-label", `Delete region ${index + 1}`);
      actions.append(remove);
      tr.append(swatch, labelCell, confidence, where, actions);
      rows.push(tr);
    });
    body.replaceChildren(...rows);
  }

  function draw() {
    drawSegments();
    drawRegions();
    root.dispatchEvent(new Event("segments-changed"));
    fill();
  }

  // The editor follows the chosen segment.
  function fill() {
    if (!labelInput) return; // an image without segments has no segment editor
    const segment = selected === null ? null : working.segments?.[selected];
    const ok = isRecord(segment);
    if (!ok) selected = null;
    for (const button of needsSegment) button.disabled = !ok;
    labelInput.disabled = textInput.disabled = !ok;
    if (!ok) {
      which.textContent = "· click a segment to choose it";
      labelInput.value = textInput.value = "";
      return;
    }
    const start = number(segment.start);
    const end = number(segment.end);
    const span = start !== null && end !== null ? ` (${clock(start)} – ${clock(end)})` : positive(segment.page) ? ` (page ${segment.page})` : "";
    which.textContent = `· segment ${selected + 1}${span}`;
    if (document.activeElement !== labelInput) labelInput.value = segment.label ?? "";
    if (document.activeElement !== textInput) textInput.value = segment.text ?? "";
  }

  root.addEventListener("segment-select", (event) => {
    selected = event.detail.index;
    fill();
  });

  labelInput?.addEventListener("input", () => {
    const index = selected;
    apply(() => { working.segments[index].label = labelInput.value; }, `Segment ${index + 1}: label changed.`);
  });
  textInput?.addEventListener("input", () => {
    const index = selected;
    apply(() => { working.segments[index].text = textInput.value; }, `Segment ${index + 1}: text changed.`);
  });

  const edits = {
    start() {
      const index = selected;
      const t = ms(player.currentTime());
      apply(() => {
        const segment = working.segments[index];
        if (number(segment.end) !== null && t >= segment.end) {
          say(`The start cannot be at or after the end (${clock(segment.end)}); play to an earlier moment first.`, true);
          return false;
        }
        segment.start = t;
      }, `Segment ${index + 1}: start set to ${clock(t)}.`);
    },
    end() {
      const index = selected;
      const t = ms(player.currentTime());
      apply(() => {
        const segment = working.segments[index];
        if (number(segment.start) !== null && t <= segment.start) {
          say(`The end cannot be at or before the start (${clock(segment.start)}); play to a later moment first.`, true);
          return false;
        }
        segment.end = t;
      }, `Segment ${index + 1}: end set to ${clock(t)}.`);
    },
    delete() {
      const index = selected;
      if (apply(() => { working.segments.splice(index, 1); }, `Segment ${index + 1} deleted.`)) player.select(null);
    },
    add() {
      const list = working.segments ?? [];
      let segment;
      let at = list.length;
      if (available && (kind === "video" || kind === "audio")) {
        const t = ms(player.currentTime());
        const length = player.duration();
        segment = { start: t, end: ms(length > t ? Math.min(t + 2, length) : t + 2), label: "new segment", text: "" };
        const later = list.findIndex((s) => isRecord(s) && number(s.start) !== null && s.start > t);
        if (later !== -1) at = later;
      } else if (available && kind === "pdf") {
        segment = { page: player.page(), label: "new segment", text: "" };
        const later = list.findIndex((s) => isRecord(s) && positive(s.page) && s.page > segment.page);
        if (later !== -1) at = later;
      } else {
        segment = { label: "new segment", text: "" };
      }
      const added = apply(() => {
        working.segments = list;
        list.splice(at, 0, segment);
      }, `Segment ${at + 1} added; give it a label.`);
      if (added) {
        player.select(at);
        labelInput.focus();
        labelInput.select();
      }
    },
    reset() {
      apply(() => { working = structuredClone(original); }, "Media edits undone.");
      player.select(null);
    },
  };
  root.addEventListener("click", (event) => {
    const button = event.target instanceof Element && event.target.closest("[data-edit], [data-region-delete]");
    if (!button) return;
    if (button.dataset.edit) edits[button.dataset.edit]?.();
    else {
      const index = Number(button.dataset.regionDelete);
      apply(() => { working.regions.splice(index, 1); }, `Region ${index + 1} deleted.`);
    }
  });

  // A region's label is corrected in place: the list is not redrawn under the typing.
  root.addEventListener("input", (event) => {
    const input = event.target instanceof Element && event.target.closest(".region-label-input");
    if (!input) return;
    const index = Number(input.dataset.region);
    apply(() => { working.regions[index].label = input.value; }, `Region ${index + 1}: label changed.`, { redraw: false })
      && regionBox(working.regions[index], index);
  });

  adopt(); // a draft that already holds media edits
}

const root = document.getElementById("media");
const box = document.getElementById("decision-form")?.elements.corrections;
if (root && box && root.dataset.editable === "true") edit(root, box);
