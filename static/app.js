// Small progressive enhancements; every page works without this file.
"use strict";

function localiseTimes(root) {
  // Show each <time> in the reader's own zone; the UTC date stays in `title`.
  const format = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  root.querySelectorAll("time[datetime]:not([data-local])").forEach((el) => {
    const when = new Date(el.getAttribute("datetime"));
    if (!isNaN(when)) {
      el.textContent = format.format(when);
      el.dataset.local = "1";
    }
  });
}

function wireCopyButtons(root) {
  root.querySelectorAll("[data-copy]:not([data-wired])").forEach((button) => {
    button.dataset.wired = "1";
    button.hidden = false;
    button.addEventListener("click", async () => {
      const status = document.getElementById(button.getAttribute("aria-controls") || "");
      try {
        await navigator.clipboard.writeText(button.dataset.copy);
        if (status) status.textContent = "Link copied.";
      } catch (err) {
        if (status) status.textContent = "Copying failed: select the link and copy it by hand.";
      }
    });
  });
}

function wireConfirms(root) {
  root.querySelectorAll("[data-confirm]:not([data-wired])").forEach((el) => {
    el.dataset.wired = "1";
    el.addEventListener("click", (event) => {
      if (!window.confirm(el.dataset.confirm)) event.preventDefault();
    });
  });
}

function enhance(root) {
  localiseTimes(root);
  wireCopyButtons(root);
  wireConfirms(root);
}

document.addEventListener("DOMContentLoaded", () => enhance(document));
document.addEventListener("htmx:afterSettle", (event) => enhance(event.target));
