// Refresh a site's plug states every few seconds by fetching the server-rendered partial.
(function () {
  "use strict";
  var box = document.getElementById("site-status");
  if (!box || !window.fetch) return;
  var url = box.dataset.statusUrl;
  var everyMs = Number(box.dataset.refreshS || 12) * 1000;

  function markStale() {
    var note = box.querySelector(".updated__stale");
    if (note) note.hidden = false;
  }

  function refresh() {
    if (document.hidden) return;  // no polling from background tabs
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.redirected) {  // logged out meanwhile: let the page go to the login form
          window.location.reload();
          return;
        }
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text().then(function (html) { box.innerHTML = html; });
      })
      .catch(markStale);
  }

  window.setInterval(refresh, everyMs);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) refresh(); });
})();
