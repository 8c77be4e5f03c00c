/*
 * reviewer-hook.js: check a help desk's reply box with the reviewer service as the agent types.
 *
 *   <script src="reviewer-hook.js"></script>
 *   <script>
 *     ReviewerHook.attach(document.querySelector("#reply"), {
 *       service: "https://reviewer.example.internal:8080",   // the `reviewer serve` base URL
 *       apiKey: "...",                                       // when the service has REVIEWER_API_KEYS
 *       customer: () => document.querySelector("#ticket-body").innerText,  // optional
 *     });
 *   </script>
 *
 * It sends the textarea's text (and the customer's message, if given) to POST /v1/check, debounced,
 * and shows the verdict in a status line right after the textarea ("block", "revise", "send" and the
 * first problems). The textarea gets data-reviewer-verdict, and a "reviewer:verdict" event (detail:
 * the Review) bubbles from it, so the help desk can hold its send button on "block".
 * The service must list the help desk's origin in REVIEWER_CORS_ORIGINS. Nothing is sent anywhere else.
 * attach() returns { check() (now), detach() }.
 */
(function (global) {
  "use strict";

  function attach(textarea, options) {
    const service = String(options.service || "").replace(/\/+$/, "");
    const delayMs = options.delayMs === undefined ? 400 : options.delayMs;
    const status = document.createElement("div");
    status.className = "reviewer-hook";
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    textarea.insertAdjacentElement("afterend", status);
    let timer = 0;
    let inFlight = null;

    function show(text, verdict) {
      status.textContent = text;
      status.dataset.verdict = verdict || "";
      if (verdict) textarea.dataset.reviewerVerdict = verdict;
      else delete textarea.dataset.reviewerVerdict;
    }

    async function check() {
      const draft = textarea.value;
      if (inFlight) inFlight.abort();
      if (!draft.trim()) { show("", ""); return; }
      inFlight = new AbortController();
      const headers = { "Content-Type": "application/json" };
      if (options.apiKey) headers.Authorization = "Bearer " + options.apiKey;
      const customer = options.customer ? options.customer() : null;
      try {
        const response = await fetch(service + "/v1/check", {
          method: "POST", headers, signal: inFlight.signal,
          body: JSON.stringify({ draft, customer_message: customer && customer.trim() ? customer : null }),
        });
        const review = await response.json();
        if (!response.ok) {
          show("Reviewer: " + ((review.error && review.error.message) || "HTTP " + response.status), "");
          return;
        }
        const problems = review.findings
          .filter((f) => f.severity !== "suggestion" && f.span && f.span.source === "draft")
          .slice(0, 3)
          .map((f) => "\u201c" + f.span.text + "\u201d: " + f.message);
        show("Reviewer: " + review.verdict + (problems.length ? " \u2014 " + problems.join(" ") : ""), review.verdict);
        textarea.dispatchEvent(new CustomEvent("reviewer:verdict", { detail: review, bubbles: true }));
      } catch (error) {
        if (error.name !== "AbortError") show("Reviewer: not reachable (" + error.message + ")", "");
      }
    }

    function onInput() {
      clearTimeout(timer);
      timer = setTimeout(check, delayMs);
    }

    textarea.addEventListener("input", onInput);
    return {
      check,
      detach() {
        clearTimeout(timer);
        textarea.removeEventListener("input", onInput);
        status.remove();
        delete textarea.dataset.reviewerVerdict;
      },
    };
  }

  global.ReviewerHook = { attach };
})(window);
