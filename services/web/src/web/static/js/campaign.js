// The campaign page, progressively: focus the update or offer an email linked to, and a "copy"
// button beside the share link. Without JavaScript the page says where the update is and the
// link can be selected by hand.
(function () {
  function setUp() {
    var target = document.querySelector("[data-focus]");
    if (target && !target.dataset.focused) {
      target.dataset.focused = "1";
      target.scrollIntoView({ block: "start" });
      target.focus({ preventScroll: true });
    }
    var field = document.querySelector("input[data-copy]");
    if (field && !field.dataset.ready && navigator.clipboard) {
      field.dataset.ready = "1";
      var button = document.createElement("button");
      button.type = "button";
      button.className = "button button-secondary button-small";
      var label = field.dataset.copyLabel || "Copy";
      var done = field.dataset.copiedLabel || label;
      button.textContent = label;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(field.value).then(function () {
          button.textContent = done;
          setTimeout(function () { button.textContent = label; }, 2000);
        });
      });
      field.addEventListener("focus", function () { field.select(); });
      var row = field.parentNode.querySelector(".actions");
      if (row) { row.insertBefore(button, row.firstChild); }
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
  document.addEventListener("htmx:load", setUp);
})();
