// On a narrow screen the top bar's navigation, search and sign-out fold behind a "Menu" button.
// Without JavaScript they stay in the bar and wrap (the CSS folds only a bar marked .foldable).
(() => {
  "use strict";
  const bar = document.querySelector(".topbar");
  const toggle = bar && bar.querySelector(".menu-toggle");
  if (!toggle) return;
  bar.classList.add("foldable");
  toggle.hidden = false;
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    bar.classList.toggle("open", open);
  });
})();

// A box that scrolls (a wide table on a phone, a long transcript) and holds nothing focusable
// takes focus itself, named after its heading, so that it scrolls by keyboard too (WCAG 2.1.1;
// axe scrollable-region-focusable).
(() => {
  "use strict";
  const boxes = "main .card, main .table-wrap, main .scroll-x, main .text-block, main pre, main .text-view";
  const scrolls = (box) => {
    const style = getComputedStyle(box);
    const x = box.scrollWidth > box.clientWidth + 1 && /auto|scroll/.test(style.overflowX);
    const y = box.scrollHeight > box.clientHeight + 1 && /auto|scroll/.test(style.overflowY);
    return x || y;
  };
  const mark = () => {
    for (const box of document.querySelectorAll(boxes)) {
      if (box.hasAttribute("tabindex") || !scrolls(box)) continue;
      if (box.querySelector("a[href], button, input, select, textarea, [tabindex]")) continue;
      const heading = box.querySelector("h2, h3") || box.previousElementSibling;
      box.setAttribute("tabindex", "0");
      if (!box.hasAttribute("role")) box.setAttribute("role", "region");
      if (!box.hasAttribute("aria-label") && !box.hasAttribute("aria-labelledby")) {
        box.setAttribute("aria-label", heading ? heading.textContent.trim().slice(0, 80) : "Scrolling text");
      }
    }
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mark);
  else mark();
  document.addEventListener("htmx:afterSettle", mark);
})();
