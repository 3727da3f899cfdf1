// The telemetry page without JavaScript is complete; this adds the live filter of the command
// table and the consent switch (a JSON request, which no form on another site can send).
"use strict";

(function () {
  document.documentElement.classList.add("scripted");

  function plural(n, word) {
    return n.toLocaleString("en") + " " + word + (n === 1 ? "" : "s");
  }

  function liveFilter() {
    var form = document.querySelector("form[data-filter]");
    var table = document.getElementById("command-table");
    if (!form || !table) return;
    var input = form.querySelector("input[type=search]");
    var status = document.getElementById("command-status");
    var empty = document.getElementById("command-empty");
    var total = Number(document.getElementById("commands-distinct").value);
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    var names = rows.map(function (row) { return row.cells[0].textContent.toLowerCase(); });
    var pending = false;

    function apply() {
      pending = false;
      var needle = input.value.trim().toLowerCase();
      var shown = 0;
      for (var i = 0; i < rows.length; i++) {
        var match = needle === "" || names[i].indexOf(needle) !== -1;
        if (rows[i].hidden === match) rows[i].hidden = !match;
        if (match) shown++;
      }
      status.textContent = "Showing " + shown.toLocaleString("en") + " of " + plural(total, "command");
      empty.hidden = shown !== 0;
    }

    input.addEventListener("input", function () {
      if (!pending) {
        pending = true;
        window.requestAnimationFrame(apply);
      }
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      apply();
    });
  }

  function consentText(value) {
    return value === null ? "undecided" : value ? "given" : "refused";
  }

  async function errorMessage(response) {
    try {
      var body = await response.json();
      if (body && typeof body.message === "string") return body.message;
    } catch (ignored) {
      // not JSON: the status says enough
    }
    return "HTTP " + response.status;
  }

  function consentSwitch() {
    var section = document.getElementById("consent");
    var input = document.getElementById("consent-switch");
    if (!section || !input) return;
    var url = section.getAttribute("data-configuration-url");
    var valueText = document.getElementById("consent-value");
    var message = document.getElementById("consent-message");
    var nextReport = document.getElementById("next-report");

    function show(value) {
      var raw = value === null ? "null" : String(value);
      input.checked = value === true;
      input.indeterminate = value === null;
      input.setAttribute("data-consent", raw);
      valueText.setAttribute("data-consent", raw);
      valueText.textContent = consentText(value);
      var code = valueText.nextElementSibling;
      if (code) code.textContent = raw;
    }

    function parse(raw) {
      return raw === "null" ? null : raw === "true";
    }

    function say(text, isError) {
      message.textContent = text;
      message.classList.toggle("error", Boolean(isError));
    }

    async function change() {
      var wanted = input.checked;
      var before = parse(input.getAttribute("data-consent"));
      input.disabled = true;
      say("Saving…");
      try {
        var response = await fetch(url, {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify({ enableTelemetry: wanted }),
          credentials: "same-origin",
          cache: "no-store",
        });
        if (!response.ok) throw new Error(await errorMessage(response));
        var check = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" });
        if (!check.ok) throw new Error(await errorMessage(check));
        var now = (await check.json()).enableTelemetry;
        show(now);
        if (nextReport) {
          nextReport.textContent = now === true ? "scheduled: reload the page to see when" : "none without consent";
        }
        say("Saved: consent is now " + consentText(now) + ".");
      } catch (error) {
        show(before);
        say("Not saved: " + error.message, true);
      } finally {
        input.disabled = false;
      }
    }

    show(parse(input.getAttribute("data-consent")));
    input.disabled = false;
    input.addEventListener("change", change);
  }

  liveFilter();
  consentSwitch();
})();
