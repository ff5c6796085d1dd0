// Drafts kept in the browser: what the reviewer types on a review page is saved in localStorage
// (one entry per review: notes, corrections, the decision chosen) as they type, and stays there
// until the server has accepted the decision. So nothing typed is lost to a reload, a closed tab,
// a refused decision or a database outage (docs/design.md, The review workflow, "Drafts").
//
// The server says it accepted a decision in two ways: the page it sends the reviewer to next
// carries `?decided=<id>`, and the page of a review this reviewer decided has
// data-decided-by-me="true". Either clears that review's draft. Anything else keeps it, and a page
// that shows something else than the kept draft offers it back.
(() => {
  "use strict";

  const PREFIX = "review-draft:";
  const MAX_AGE = 30 * 24 * 3600 * 1000; // a draft nobody came back to for a month is dropped

  const store = {
    get(key) {
      try {
        return JSON.parse(localStorage.getItem(key) || "null");
      } catch {
        return null; // storage disabled, or an entry that is not ours
      }
    },
    set(key, value) {
      try {
        localStorage.setItem(key, JSON.stringify(value));
        return true;
      } catch {
        return false; // full or disabled: the server's draft still holds what was typed
      }
    },
    remove(key) {
      try {
        localStorage.removeItem(key);
      } catch {
        // nothing to do
      }
    },
    keys() {
      try {
        return Object.keys(localStorage).filter((key) => key.startsWith(PREFIX));
      } catch {
        return [];
      }
    },
  };

  // Old drafts go.
  for (const key of store.keys()) {
    const draft = store.get(key);
    if (!draft || !(Date.now() - Number(draft.savedAt) < MAX_AGE)) store.remove(key);
  }

  // The previous page's decision was accepted.
  const url = new URL(window.location.href);
  const decided = url.searchParams.get("decided");
  if (decided) {
    store.remove(PREFIX + decided);
    url.searchParams.delete("decided");
    window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
  }

  const page = document.getElementById("review-page");
  if (!page) return;
  const key = PREFIX + page.dataset.review;
  if (page.dataset.decidedByMe === "true") {
    store.remove(key);
    return;
  }

  const form = document.getElementById("decision-form");
  const notes = form && form.elements.reviewer_notes;
  const corrections = form && form.elements.corrections;
  const current = () => ({
    notes: notes ? notes.value : "",
    corrections: corrections ? corrections.value : "",
  });
  const kept = store.get(key);
  const differs = (draft) => {
    const now = current();
    return draft.notes !== now.notes || draft.corrections !== now.corrections;
  };

  const element = (tag, attrs, text) => {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  };

  // Offer the kept draft back when the page shows something else.
  if (kept && (kept.notes || kept.corrections) && differs(kept)) {
    const when = new Date(Number(kept.savedAt));
    const offer = element("div", { id: "draft-offer", class: "notice warning", role: "status" });
    offer.append(
      element(
        "p",
        {},
        `You have an unsaved draft of this review, kept in this browser since ${when.toLocaleString()}.` +
          (kept.approved ? ` You were deciding “${kept.approved}”.` : ""),
      ),
    );
    const shown = element("details", {});
    shown.append(element("summary", {}, "Show it"));
    if (kept.notes) shown.append(element("pre", { class: "text-block", id: "draft-notes" }, kept.notes));
    if (kept.corrections) shown.append(element("pre", { id: "draft-corrections" }, kept.corrections));
    offer.append(shown);
    const buttons = element("p", { class: "decision-bar" });
    if (notes && corrections) {
      const restore = element("button", { type: "button", class: "primary", id: "draft-restore" }, "Restore your unsaved draft");
      restore.addEventListener("click", () => {
        notes.value = kept.notes || "";
        corrections.value = kept.corrections || "";
        // The live diff and the heartbeat (which also keeps a draft on the server) follow.
        corrections.dispatchEvent(new Event("input", { bubbles: true }));
        notes.dispatchEvent(new Event("input", { bubbles: true }));
        offer.remove();
      });
      buttons.append(restore);
    }
    const discard = element("button", { type: "button", id: "draft-discard" }, "Discard it");
    discard.addEventListener("click", () => {
      store.remove(key);
      offer.remove();
    });
    buttons.append(discard);
    offer.append(buttons);
    const anchor = document.getElementById("claim-lost") || page.firstElementChild;
    anchor.after(offer);
  }

  if (!form) return;
  let chosen = kept ? kept.approved || "" : "";
  const save = () => {
    const now = current();
    if (!now.notes && !now.corrections) {
      store.remove(key); // emptied on purpose: nothing to offer back
      return;
    }
    store.set(key, { ...now, approved: chosen, savedAt: Date.now() });
  };
  form.addEventListener("input", save);
  form.addEventListener("submit", (event) => {
    // The decision button pressed; kept until the server says it accepted the decision.
    if (event.submitter && event.submitter.name === "approved") chosen = event.submitter.value;
    save();
  });
})();
