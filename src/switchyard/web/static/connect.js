// Switchyard's hosted connect page: config -> authenticating -> success or error, in place.
// The page works without this script (plain forms); text is always inserted with textContent.
(function () {
  "use strict";
  var root = document.getElementById("main");
  var form = document.getElementById("connect-form");
  if (!root || !form) { return; }

  var MESSAGE_TYPE = "switchyard:connect";
  var returnOrigin = root.getAttribute("data-return-origin") || "";
  var returnUrl = root.getAttribute("data-return-url") || "";
  var integration = root.getAttribute("data-chosen") || "";
  var live = document.getElementById("connect-status");
  var result = document.getElementById("connect-result");
  var button = document.getElementById("connect-button");
  var retry = document.getElementById("retry-link");
  var back = document.getElementById("back-link");
  var closer = document.getElementById("close-button");
  var others = document.getElementById("other-services");
  var panels = {
    config: document.getElementById("panel-config"),
    authenticating: document.getElementById("panel-authenticating"),
    result: document.getElementById("panel-result")
  };
  var stepItems = document.querySelectorAll("#connect-steps li");
  var labels = { config: "Step 1 of 3", authenticating: "Step 2 of 3", success: "Step 3 of 3", error: "Step 3 of 3" };
  var popup = null;
  var watcher = null;

  // Shows one step: its panel, the progress list, an announcement, and focus on its heading.
  function show(step) {
    var panel = (step === "success" || step === "error") ? "result" : step;
    Object.keys(panels).forEach(function (name) { panels[name].hidden = name !== panel; });
    document.getElementById("step-success").hidden = step !== "success";
    document.getElementById("step-error").hidden = step !== "error";
    stepItems.forEach(function (item) {
      if (item.getAttribute("data-step") === panel) { item.setAttribute("aria-current", "step"); }
      else { item.removeAttribute("aria-current"); }
    });
    retry.hidden = step !== "error";
    if (others) { others.hidden = step !== "config"; }
    var heading = document.getElementById("step-" + step);
    live.textContent = labels[step] + ": " + heading.textContent;
    heading.focus();
  }

  function write(kind, lines) {
    result.className = "notice " + kind;
    result.textContent = "";
    lines.forEach(function (line) {
      if (!line) { return; }
      var p = document.createElement("p");
      if (line.code) {
        p.textContent = "Error code: ";
        var code = document.createElement("code");
        code.textContent = line.code;
        p.appendChild(code);
      } else {
        p.textContent = line;
      }
      result.appendChild(p);
    });
  }

  function withParams(url, params) {
    var target = new URL(url);
    Object.keys(params).forEach(function (name) { target.searchParams.append(name, params[name]); });
    return target.toString();
  }

  // The application that opened this page hears the outcome, but only at its own origin: never "*".
  function tellOpener(payload) {
    if (!window.opener || !returnOrigin) { return false; }
    try { window.opener.postMessage(payload, returnOrigin); } catch (ignored) { return false; }
    return true;
  }

  function succeeded(connectionId) {
    tellOpener({ type: MESSAGE_TYPE, status: "success", connection_id: connectionId, integration: integration });
    back.hidden = true;
    if (!window.opener && returnUrl) {
      write("ok", ["Connected. Taking you back to the application…"]);
      show("success");
      window.location.assign(withParams(returnUrl, { status: "success", connection_id: connectionId }));
      return;
    }
    write("ok", ["Connected. You can close this window."]);
    closer.hidden = !window.opener;
    show("success");
  }

  function failed(problem) {
    var code = problem.code || "connect.failed";
    tellOpener({ type: MESSAGE_TYPE, status: "error", error: code, integration: integration });
    var lines = [problem.detail || "Nothing was connected."];
    (Array.isArray(problem.fields) ? problem.fields : []).forEach(function (line) { lines.push(String(line)); });
    lines.push(problem.remediation || "", { code: code });
    write("bad", lines);
    closer.hidden = true;
    if (returnUrl) {
      back.href = withParams(returnUrl, { status: "error", error: code });
      back.hidden = false;
    }
    show("error");
  }

  retry.addEventListener("click", function (event) {
    event.preventDefault();
    back.hidden = true;
    show("config");
  });
  closer.addEventListener("click", function () { window.close(); });

  function stopWaiting() {
    popup = null;
    if (watcher !== null) { window.clearInterval(watcher); watcher = null; }
  }

  // A form method (API key, basic, ...): post in place, then show the outcome.
  function submitForm() {
    button.disabled = true;
    show("authenticating");
    fetch(form.action, {
      method: "POST",
      headers: { "Accept": "application/json" },
      body: new URLSearchParams(new FormData(form)),
      credentials: "omit"
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (response.ok && data.ok) { succeeded(data.connection_id); } else { failed(data); }
      });
    }).catch(function () {
      failed({ detail: "Could not reach Switchyard.", remediation: "Check your network connection and try again.", code: "connect.network" });
    }).then(function () { button.disabled = false; });
  }

  // A redirect method: the provider's sign-in page in a popup that reports back; a blocked popup falls
  // back to sending this page there.
  function startRedirect() {
    var params = new URLSearchParams(new FormData(form));
    params.set("mode", "hosted");
    popup = window.open(form.action + "?" + params.toString(), "switchyard-connect", "popup,width=600,height=700");
    if (!popup) {
      params.set("mode", "redirect");
      window.location.assign(form.action + "?" + params.toString());
      return;
    }
    show("authenticating");
    watcher = window.setInterval(function () {
      if (popup && popup.closed) {
        window.clearInterval(watcher);
        watcher = null;
        window.setTimeout(function () {  // a result posted just before closing arrives first
          if (popup === null) { return; }
          stopWaiting();
          failed({ detail: "The sign-in window was closed before connecting finished.", remediation: "Try again, and finish signing in in the window that opens.", code: "connect.window_closed" });
        }, 800);
      }
    }, 500);
  }

  window.addEventListener("message", function (event) {
    if (event.origin !== window.location.origin) { return; }
    var data = event.data;
    if (!data || typeof data !== "object" || data.type !== MESSAGE_TYPE) { return; }
    if (popup === null || event.source !== popup) { return; }
    stopWaiting();
    if (data.status === "success") {
      succeeded(String(data.connection_id || ""));
    } else {
      failed({ code: String(data.error || "oauth.failed"), detail: String(data.error_description || "Nothing was connected.") });
    }
  });

  form.addEventListener("submit", function (event) {
    var kind = form.getAttribute("data-kind");
    if (kind === "redirect" && form.getAttribute("data-popup") !== "true") { return; }  // a plain navigation
    event.preventDefault();
    if (kind === "redirect") { startRedirect(); } else { submitForm(); }
  });
}());
