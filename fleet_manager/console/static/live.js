// The console's live updates: a page element with data-live-url subscribes to that
// Server-Sent Events stream. Each "row" event carries an element id and its new HTML (rendered
// by the server, already escaped); the row is replaced, or added at the top when new.
// "logout" means the session has timed out: go to the login page, leaving nothing on screen.
(function () {
  "use strict";
  for (const body of document.querySelectorAll("[data-live-url]")) {
    const state = document.querySelector("[data-live-state]");
    const source = new EventSource(body.getAttribute("data-live-url"));
    source.addEventListener("open", function () {
      if (state) { state.textContent = "Live"; }
    });
    source.addEventListener("error", function () {
      if (state) { state.textContent = "Reconnecting…"; }
    });
    source.addEventListener("row", function (message) {
      const data = JSON.parse(message.data);
      const template = document.createElement("template");
      template.innerHTML = data.html.trim();
      const row = template.content.firstElementChild;
      const old = document.getElementById(data.id);
      if (old) {
        old.replaceWith(row);
      } else {
        row.classList.add("new");
        body.prepend(row);
      }
      const empty = document.querySelector("[data-live-empty]");
      if (empty) { empty.remove(); }
    });
    source.addEventListener("logout", function () {
      source.close();
      window.location.replace("/console/login");
    });
  }
})();
