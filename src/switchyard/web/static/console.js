// Switchyard console: small progressive enhancements. Every page works without this script; text from the
// server is always inserted with textContent, never as HTML.
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Accept": "application/json" },
      body: body || null
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { ok: response.ok, status: response.status, data: data };
      });
    });
  }

  function say(target, kind, title, lines) {
    target.hidden = false;
    target.className = "notice " + kind;
    target.textContent = "";
    var strong = document.createElement("strong");
    strong.textContent = title;
    target.appendChild(strong);
    (lines || []).filter(Boolean).forEach(function (line) {
      var p = document.createElement("p");
      p.textContent = line;
      target.appendChild(p);
    });
  }

  // Destructive forms ask first.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });

  // "Test connection": a live result without leaving the page.
  document.querySelectorAll("button[data-test-url]").forEach(function (button) {
    var result = document.getElementById(button.getAttribute("data-result"));
    button.addEventListener("click", function (event) {
      event.preventDefault();
      button.disabled = true;
      say(result, "", "Testing…", []);
      post(button.getAttribute("data-test-url")).then(function (answer) {
        var d = answer.data || {};
        if (answer.ok && d.ok) {
          say(result, "ok", "Connection works", [d.detail, d.account_id ? "Account: " + d.account_id : ""]);
        } else {
          say(result, "bad", "Connection failed", [d.detail, d.remediation, d.code ? "Code: " + d.code : ""]);
        }
      }).catch(function () {
        say(result, "bad", "Could not reach the server", []);
      }).then(function () { button.disabled = false; });
    });
  });

  // Uploads show their progress and, on refusal, the validation errors in the page.
  document.querySelectorAll("form[data-upload]").forEach(function (form) {
    var bar = form.querySelector("progress");
    var errors = document.getElementById(form.getAttribute("data-upload"));
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var request = new XMLHttpRequest();
      var submit = form.querySelector("button[type=submit]");
      request.open("POST", form.action);
      request.setRequestHeader("X-CSRF-Token", csrf);
      request.setRequestHeader("Accept", "application/json");
      request.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) { bar.hidden = false; bar.max = e.total; bar.value = e.loaded; }
      });
      request.addEventListener("load", function () {
        var data = {};
        try { data = JSON.parse(request.responseText); } catch (ignored) { data = {}; }
        if (request.status < 300 && data.location) { window.location.assign(data.location); return; }
        var lines = [data.detail, data.remediation].concat(data.problems || []);
        say(errors, "bad", "The package was not accepted", lines);
        if (data.code) { say(errors, "bad", "The package was not accepted", lines.concat(["Code: " + data.code])); }
        submit.disabled = false;
      });
      request.addEventListener("error", function () {
        say(errors, "bad", "The upload failed", ["Check your connection and try again."]);
        submit.disabled = false;
      });
      submit.disabled = true;
      request.send(new FormData(form));
    });
  });

  // Copy buttons.
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (navigator.clipboard && source) {
        navigator.clipboard.writeText(source.textContent.trim()).then(function () { button.textContent = "Copied"; });
      }
    });
  });
})();
