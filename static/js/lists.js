// The list pages' small behaviours; everything else works without JavaScript.
(function () {
  "use strict";

  // A GET form sends every field, empty or not: leave the empty ones out of the request, so the
  // address pushed to the history is the short, shareable one (the server redirects a plain
  // submission to the same clean address).
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.verb !== "get") return;
    var data = event.detail.formData;
    var keys = [];
    data.forEach(function (_value, key) { if (keys.indexOf(key) < 0) keys.push(key); });
    keys.forEach(function (key) {
      if (data.getAll(key).every(function (value) { return value === ""; })) data.delete(key);
    });
  });

  // One history entry per address: a box left with Enter both changes and submits the form, and
  // Back should not have to be pressed twice for the same list.
  document.addEventListener("htmx:beforeHistoryUpdate", function (event) {
    var update = event.detail.history;
    if (update.type === "push" && new URL(update.path, location.href).href === location.href) {
      update.type = "replace";
    }
  });

  // A header checkbox ticks (or unticks) every row of its table: <input data-select-all="result">
  // ticks the table's enabled <input type=checkbox name="result">.
  function rowBoxes(header) {
    var table = header.closest("table");
    var selector = 'tbody input[type=checkbox][name="' + header.dataset.selectAll + '"]:not(:disabled)';
    return table ? Array.prototype.slice.call(table.querySelectorAll(selector)) : [];
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("[data-select-all]")) {
      rowBoxes(target).forEach(function (box) { box.checked = target.checked; });
      return;
    }
    var table = target.closest && target.closest("table");
    var header = table && table.querySelector("thead [data-select-all]");
    if (!header || target.name !== header.dataset.selectAll) return;
    var boxes = rowBoxes(header);
    var ticked = boxes.filter(function (box) { return box.checked; }).length;
    header.checked = ticked > 0 && ticked === boxes.length;
    header.indeterminate = ticked > 0 && ticked < boxes.length;
  });
})();
