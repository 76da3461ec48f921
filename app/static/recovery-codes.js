// Copy and Print for the recovery codes page. Without this file the page offers the download only
// (the buttons stay hidden), which needs no script. The words come from the page, in its language
// (data-note: the line the download has under the heading).
(function () {
  "use strict";

  var block = document.querySelector("[data-recovery-codes]");
  if (!block) return;
  var status = document.querySelector("[data-copy-status]");
  var copy = document.querySelector("[data-copy-codes]");
  var print = document.querySelector("[data-print-codes]");

  function codesAsText() {
    var heading = block.querySelector("h2").textContent.trim();
    var codes = Array.prototype.map.call(block.querySelectorAll("li"), function (item) {
      return item.textContent.trim();
    });
    return heading + "\n" + block.getAttribute("data-note") + "\n\n" + codes.join("\n") + "\n";
  }

  if (copy && navigator.clipboard && window.isSecureContext) {
    copy.hidden = false;
    copy.addEventListener("click", function () {
      navigator.clipboard.writeText(codesAsText()).then(function () {
        status.textContent = status.getAttribute("data-copied");
      }, function () {
        status.textContent = status.getAttribute("data-not-copied");
      });
    });
  }

  if (print && typeof window.print === "function") {
    print.hidden = false;
    print.addEventListener("click", function () { window.print(); });
  }
})();
