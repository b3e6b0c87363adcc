(function () {
  var exit = document.getElementById("exit");
  var target = exit.getAttribute("href");
  function leave(event) {
    if (event) { event.preventDefault(); }
    document.title = "";
    document.body.innerHTML = "";
    location.replace(target);
  }
  exit.addEventListener("click", leave);
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { leave(event); }
  });
})();
