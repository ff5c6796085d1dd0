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
  if (!page) return;

  // A refused decision is shown at /reviews/<id>/decide/: the address bar shows the review's
  // own address, which reloads and bookmarks as the review page.
  if (page.dataset.url && window.location.pathname !== page.dataset.url) {
    window.history.replaceState(window.history.state, "", page.dataset.url + window.location.search);
  }

  // "Use this draft": a draft left by a reviewer who was taken over, copied into the form.
  for (const button of document.querySelectorAll("button.use-draft")) {
    button.addEventListener("click", () => {
      const decision = document.getElementById("decision-form");
      for (const name of ["notes", "corrections"]) {
        const source = document.getElementById(button.dataset[name]);
        const field = decision.elements[name === "notes" ? "reviewer_notes" : "corrections"];
        if (!field) continue;
        field.value = source ? source.textContent : "";
        field.dispatchEvent(new Event("input", { bubbles: true }));
      }
      button.textContent = "Copied into your form";
    });
  }

  if (page.dataset.held !== "true") return;

  const heartbeatUrl = page.dataset.heartbeatUrl;
  const ttl = Number(page.dataset.ttl) * 1000;
  const beatEvery = Math.max(1000, Math.min(30000, ttl / 3));
  const activeWindow = Math.max(beatEvery, 60000);
  const form = document.getElementById("decision-form");
  const csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;
  const timer = document.getElementById("claim-timer");
  const barTimer = document.querySelector(".bar-timer");
  const announce = document.getElementById("claim-announce");
  const lostBanner = document.getElementById("claim-lost");
  const lostText = document.getElementById("claim-lost-text");
  const claimAgain = document.getElementById("claim-again");
  const decisions = form.querySelectorAll("button[name=approved]");
  // Screen readers hear the time left at these thresholds (seconds), not every tick.
  const thresholds = [300, 120, 60, 30];
  let announced = Infinity;

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

  const showTime = (text) => {
    timer.textContent = text;
    if (barTimer) barTimer.textContent = text;
  };

  // Lost: say why, disable the decisions, and offer "Claim again" while the review is free to
  // take; looked at again every few seconds, so a takeover shows at once.
  const showLost = (message, claimable) => {
    lost = true;
    lostText.textContent = message;
    lostBanner.hidden = false;
    showTime("0:00");
    // The server refuses a decision without a live claim: no button pretends otherwise.
    for (const button of decisions) button.disabled = true;
    if (claimAgain && claimable !== undefined) claimAgain.hidden = !claimable;
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
        showLost(`${data.error} What you typed is saved as your draft.`, data.claimable);
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
    if (!lost) showTime(format(left));
    timer.classList.toggle("low", left < 60000);
    const crossed = thresholds.find((t) => left <= t * 1000 && t < announced);
    if (!lost && crossed !== undefined && left > 0) {
      announced = crossed;
      announce.textContent = `Your claim on this review has ${format(left)} left.`;
    } else if (left > thresholds[0] * 1000) {
      announced = Infinity; // renewed: the next pass announces again
    }
    if (!lost && left <= 0) {
      announce.textContent = "Your claim has expired.";
      showLost("Your claim has expired: someone else may take this review now. Your notes are kept as a draft.", true);
      beat(); // keeps the typed text as a draft and says whether someone else took it
      return;
    }
    // While lost, look again every few seconds: show at once when someone else takes it.
    if (lost && Date.now() - lastBeat >= 5000) {
      beat();
      return;
    }
    const active = Date.now() - lastActivity < activeWindow;
    if (!lost && active && Date.now() - lastBeat >= beatEvery) beat();
  }, 1000);
})();
