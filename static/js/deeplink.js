// Deep links from search hits (docs/search.md): `?t=12.5` opens the page's player at that
// second, `?page=3` its document at that page. The player and the PDF viewer may listen for the
// "media:seek" and "media:page" events instead; without a listener, the first <video> or
// <audio> element is seeked once it knows its duration.
(function () {
  "use strict";
  const params = new URLSearchParams(window.location.search);
  const seconds = Number.parseFloat(params.get("t"));
  const page = Number.parseInt(params.get("page"), 10);

  function start() {
    if (Number.isFinite(seconds) && seconds >= 0) {
      const event = new CustomEvent("media:seek", { detail: { seconds }, cancelable: true });
      if (document.dispatchEvent(event)) {
        const media = document.querySelector("video, audio");
        if (media) {
          const seek = () => { media.currentTime = Math.min(seconds, media.duration || seconds); };
          if (media.readyState >= 1) seek();
          else media.addEventListener("loadedmetadata", seek, { once: true });
        }
      }
    }
    if (Number.isInteger(page) && page >= 1) {
      document.dispatchEvent(new CustomEvent("media:page", { detail: { page } }));
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
