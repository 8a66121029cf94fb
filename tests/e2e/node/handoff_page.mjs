// Runs the TikTok callback's hand-off page the way a browser would: fetch it, check its
// Content-Security-Policy allows its one inline script, run that script against a minimal DOM
// with the page's own address, type the API key, submit. Prints one JSON line.
import { createHash } from "node:crypto";

const pageUrl = new URL(process.env.PAGE_URL);
const answer = await fetch(pageUrl);
const html = await answer.text();
const script = html.match(/<script>([\s\S]*)<\/script>/)[1];
const hash = createHash("sha256").update(script).digest("base64");
const csp = answer.headers.get("content-security-policy") || "";

const elements = {
  result: { textContent: "" },
  key: { value: process.env.API_KEY },
  connect: {
    listeners: [],
    addEventListener(type, listener) {
      if (type === "submit") this.listeners.push(listener);
    },
  },
};
let address = new URL(pageUrl);
globalThis.location = {
  get href() { return address.href; },
  get search() { return address.search; },
  get pathname() { return address.pathname; },
};
globalThis.history = { replaceState(_state, _title, url) { address = new URL(url, address); } };
globalThis.document = { getElementById: (id) => elements[id] };

new Function(`return (async () => { ${script} })()`)();
await Promise.all(elements.connect.listeners.map((l) => l({ preventDefault() {} })));
// The listener's fetch resolves after the submit handler returns its promise.
for (let i = 0; i < 100 && !elements.result.textContent; i++) {
  await new Promise((resolve) => setTimeout(resolve, 50));
}
console.log(JSON.stringify({
  status: answer.status,
  cspAllowsScript: csp.includes(`'sha256-${hash}'`),
  addressAfter: address.href,
  result: elements.result.textContent,
}));
