// The review page: claim countdown, heartbeat while the reviewer is active, single-key shortcuts.
(() => {
  "use strict";

  // Shortcuts: a key on an element with data-shortcut clicks it, unless the user is typing.
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.key === "Escape" && target instanceof HTMLElement && target.matches("input, textarea, select")) {
      target.blur();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    if (target instanceof HTMLElement && (target.isContentEditable || target.matches("input, textarea, select"))) return;
    const button = document.querySelector(`[data-shortcut="${CSS.escape(event.key.toLowerCase())}"]`);
    if (!button) return;
    event.preventDefault();
    if (button instanceof HTMLFormElement) button.requestSubmit();
    else button.click();
  });

  const page = document.getElementById("review-page");
  if (!page || page.dataset.held !== "true") return;

  const heartbeatUrl = page.dataset.heartbeatUrl;
  const ttl = Number(page.dataset.ttl) * 1000;
  const beatEvery = Math.max(1000, Math.min(30000, ttl / 3));
  const activeWindow = Math.max(beatEvery, 60000);
  const form = document.getElementById("decision-form");
  const csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;
  const timer = document.getElementById("claim-timer");
  const lostBanner = document.getElementById("claim-lost");

  // The server rounds the time left up, so the page never calls a claim lost that still lives.
  const until = (secondsLeft) => Date.now() + Number(secondsLeft) * 1000;
  let deadline = until(page.dataset.secondsLeft);
  let lastActivity = 0; // an idle tab sends no heartbeat
  let lastBeat = Date.now();
  let lost = false;
  let edited = false;

  const format = (ms) => {
    const total = Math.max(0, Math.round(ms / 1000));
    const minutes = Math.floor(total / 60);
    return `${minutes}:${String(total % 60).padStart(2, "0")}`;
  };

  const showLost = (message) => {
    lost = true;
    lostBanner.textContent = message;
    lostBanner.hidden = false;
    timer.textContent = "0:00";
  };

  const beat = async () => {
    lastBeat = Date.now();
    const body = new FormData();
    body.set("reviewer_notes", form.elements.reviewer_notes.value);
    body.set("corrections", form.elements.corrections.value);
    try {
      const response = await fetch(heartbeatUrl, {
        method: "POST",
        body,
        headers: { "X-CSRFToken": csrf },
        credentials: "same-origin",
      });
      const data = await response.json();
      if (data.ok) {
        deadline = until(data.seconds_left);
      } else {
        showLost(`${data.error} What you typed is saved as your draft.`);
      }
    } catch {
      // Offline for a moment: the countdown tells the truth, and the next beat tries again.
    }
  };

  for (const name of ["keydown", "mousemove", "mousedown", "wheel", "touchstart", "input"]) {
    document.addEventListener(name, () => { lastActivity = Date.now(); }, { passive: true });
  }
  // The first edit moves the claim to "reviewing" at once.
  form.addEventListener("input", () => {
    if (!edited && !lost) {
      edited = true;
      beat();
    }
  });

  setInterval(() => {
    const left = deadline - Date.now();
    if (!lost) timer.textContent = format(left);
    timer.classList.toggle("low", left < 60000);
    if (!lost && left <= 0) {
      showLost("Your claim has expired: someone else may take this review now. Your notes are kept as a draft; claim it again to decide.");
      beat(); // keeps the typed text as a draft (the renewal itself is refused)
      return;
    }
    const active = Date.now() - lastActivity < activeWindow;
    if (!lost && active && Date.now() - lastBeat >= beatEvery) beat();
  }, 1000);
})();
