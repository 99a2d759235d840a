// Live updates over a WebSocket (marketplace/realtime). Loaded on every signed-in page; connects
// only when the page has an element with [data-live-socket="/ws/<role>/"].
//
// For each JSON message {type, ...}:
//  - dispatches a DOM event "quorum:<type>" on document, with the message as event.detail;
//  - for job.progress / job.status, updates [data-job="<id>"][data-field="<key>"] (textContent;
//    "percent" as one decimal + "%"), and sets style.width on [data-field="progress-bar"].
// The socket state is on <html data-live="connecting|open|closed">, so pages and tests can wait
// for it ("open" once a page's job subscription is answered, not before). Reconnects with exponential backoff (1 s doubling, capped at 30 s, with jitter).
(() => {
  "use strict";

  const root = document.documentElement;
  const anchor = document.querySelector("[data-live-socket]");
  if (!anchor) return;

  const path = anchor.getAttribute("data-live-socket") || "";
  // Only a same-origin path: an attribute must never point the socket at another host.
  if (!path.startsWith("/") || path.startsWith("//")) return;

  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  const url = `${scheme}//${window.location.host}${path}`;
  const MAX_DELAY = 30000;
  const UPDATES_FIELDS = new Set(["job.progress", "job.status"]);
  // <... data-live-socket="/ws/client/" data-live-job="12">: subscribe to that job on every
  // (re)connect; a later window.quorumLive.send({subscribe: id}) replaces it.
  const jobAttr = anchor.getAttribute("data-live-job");
  let subscription = jobAttr && /^\d+$/.test(jobAttr) ? { subscribe: Number(jobAttr) } : null;
  let attempt = 0;
  let awaitingAnswer = false; // a subscription sent on open, not yet answered
  let socket = null;
  let timer = null;

  const setState = (state) => {
    root.dataset.live = state;
    document.dispatchEvent(new CustomEvent("quorum:live", { detail: { state } }));
  };

  // Amounts arrive as strings with two places ("1234.50"); pages show them as the money filter
  // does (templatetags/public.py): the currency's sign and thousands separators, "$1,234.50".
  const MONEY_FIELDS = new Set(["spent", "budget", "balance", "escrow"]);
  const money = (value) => `$${Number(value).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
  const show = (key, value) => {
    if (value === null || value === undefined) return "";
    if (key === "percent") return `${Number(value).toFixed(1)}%`;
    if (MONEY_FIELDS.has(key) && Number.isFinite(Number(value))) return money(value);
    return String(value);
  };

  const applyFields = (msg) => {
    const job = String(msg.job);
    for (const el of document.querySelectorAll("[data-job][data-field]")) {
      if (el.getAttribute("data-job") !== job) continue;
      const key = el.getAttribute("data-field");
      if (key === "progress-bar") {
        if (typeof msg.percent === "number") el.style.width = `${msg.percent}%`;
      } else if (Object.prototype.hasOwnProperty.call(msg, key) && key !== "type") {
        el.textContent = show(key, msg[key]); // textContent: never parsed as HTML
      }
    }
  };

  const onMessage = (event) => {
    let msg;
    try {
      msg = JSON.parse(event.data);
    } catch {
      return;
    }
    if (!msg || typeof msg.type !== "string") return;
    if (UPDATES_FIELDS.has(msg.type) && msg.job !== undefined) applyFields(msg);
    document.dispatchEvent(new CustomEvent(`quorum:${msg.type}`, { detail: msg }));
    if (awaitingAnswer && (msg.type === "subscribed" || msg.type === "error")) {
      awaitingAnswer = false;
      setState("open");
    }
  };

  const schedule = () => {
    if (timer !== null) return;
    const base = Math.min(MAX_DELAY, 1000 * 2 ** attempt);
    const delay = Math.round(base * (0.75 + Math.random() * 0.25));
    attempt += 1;
    timer = window.setTimeout(() => {
      timer = null;
      connect();
    }, delay);
  };

  const connect = () => {
    setState("connecting");
    try {
      socket = new WebSocket(url);
    } catch {
      setState("closed");
      schedule();
      return;
    }
    socket.addEventListener("open", () => {
      attempt = 0;
      if (subscription) {
        // "open" only once the server answers: a staff socket joins the job's feed then, and a
        // page that said "live" before that would miss the events in between.
        awaitingAnswer = true;
        socket.send(JSON.stringify(subscription));
      } else {
        setState("open");
      }
    });
    socket.addEventListener("message", onMessage);
    socket.addEventListener("close", (event) => {
      socket = null;
      awaitingAnswer = false;
      setState("closed");
      // 4401 (no session: logged out) and 4403 (wrong role) will not change by retrying.
      if (event.code !== 4401 && event.code !== 4403) schedule();
    });
    // "error" is always followed by "close", which reconnects.
  };

  // Pages may send {"subscribe": jobId} to narrow the feed: window.quorumLive.send({...});
  // the subscription is repeated after a reconnect.
  window.quorumLive = {
    send(message) {
      if (message && Object.prototype.hasOwnProperty.call(message, "subscribe")) subscription = message;
      if (socket && socket.readyState === WebSocket.OPEN) {
        socket.send(JSON.stringify(message));
        return true;
      }
      return false;
    },
    get state() {
      return root.dataset.live || "closed";
    },
  };

  // Reconnect at once when the tab comes back online instead of waiting out the backoff.
  window.addEventListener("online", () => {
    if (socket === null && timer !== null) {
      window.clearTimeout(timer);
      timer = null;
      attempt = 0;
      connect();
    }
  });

  connect();
})();
