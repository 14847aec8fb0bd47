// Refreshes the list every refresh-seconds without reloading the page: the server
// renders the list (?fragment=1, escaped there like the page itself) and it replaces
// the old one. Without JavaScript the page is complete as served.
(function () {
  "use strict";
  const list = document.getElementById("live-list");
  const status = document.getElementById("refresh-status");
  if (!list) return;
  const seconds = Number(list.dataset.refreshSeconds) || 60;

  async function refresh() {
    const url = new URL(window.location.href);
    url.searchParams.set("fragment", "1");
    try {
      const response = await fetch(url, { cache: "no-store" });
      // 400 and 503 carry a rendered explanation too; show whatever the server says.
      list.innerHTML = await response.text();
      list.dataset.refreshedAt = String(Date.now());
      status.textContent = response.ok ? "" : "Could not refresh (HTTP " + response.status + ").";
    } catch (error) {
      status.textContent = "Could not reach the site; showing the last list.";
    }
  }

  setInterval(refresh, seconds * 1000);
})();
