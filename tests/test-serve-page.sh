#!/usr/bin/env bash
# The status page of `panoptes serve` in a real headless Chromium (Debian's chromium, driven over
# the DevTools protocol on a pipe from node: no npm package needed): the page loads, a camera is
# added through its form, it is listed live with frames/s above 0 and frames rising and its
# snapshot shown, the page is kept as a screenshot (serve-page.png in the build folder), and the
# camera is removed with its button.
set -u
CLI="${PANOPTES_CLI:?set by ctest}"
SAMPLE=data/vtest.mp4
[ -f "$SAMPLE" ] && [ -f models/nanodet.json ] || { echo "skipped: run scripts/setup.sh (sample or model missing)"; exit 77; }
"$CLI" serve --help >/dev/null 2>&1 || { echo "skipped: this build has no panoptes serve"; exit 77; }
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROMIUM" ] || { echo "skipped: chromium not installed (scripts/setup.sh installs Debian's)"; exit 77; }
command -v node >/dev/null || { echo "skipped: node not installed"; exit 77; }
TMP=$(mktemp -d)
SHOT="${PANOPTES_BUILD:-$TMP}/serve-page.png"
SERVE_PID=
cleanup() { [ -n "$SERVE_PID" ] && kill -KILL "$SERVE_PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT

"$CLI" serve --listen 127.0.0.1:0 --backend cpu --realtime 2>"$TMP/serve.err" &
SERVE_PID=$!
PORT=
for _ in $(seq 600); do
    PORT=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$TMP/serve.err" | head -1)
    [ -n "$PORT" ] && break
    kill -0 "$SERVE_PID" 2>/dev/null || break
    sleep 0.1
done
[ -n "$PORT" ] || { cat "$TMP/serve.err"; echo "FAIL serve did not start"; exit 1; }

cat >"$TMP/drive.js" <<'EOF'
// Drives Chromium over --remote-debugging-pipe: requests go to fd 3, replies come on fd 4,
// one JSON message per NUL-terminated chunk.
"use strict";
const { spawn } = require("child_process");
const fs = require("fs");
const [chromium, url, sample, shot, profile] = process.argv.slice(2);
const chrome = spawn(chromium, ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
  "--no-first-run", "--remote-debugging-pipe", "--user-data-dir=" + profile, "--window-size=1280,900", "about:blank"],
  { stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"] });
let buf = Buffer.alloc(0), nextId = 1, sessionId;
const pending = new Map();
chrome.stdio[4].on("data", (d) => {
  buf = Buffer.concat([buf, d]);
  for (let z; (z = buf.indexOf(0)) >= 0; buf = buf.subarray(z + 1)) {
    const msg = JSON.parse(buf.subarray(0, z).toString());
    const p = msg.id && pending.get(msg.id);
    if (!p) continue;
    pending.delete(msg.id);
    msg.error ? p.reject(new Error(msg.error.message)) : p.resolve(msg.result);
  }
});
function send(method, params, session) {
  const id = nextId++;
  chrome.stdio[3].write(JSON.stringify({ id, method, params: params || {}, sessionId: session }) + "\0");
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
}
async function js(expr) {
  const r = await send("Runtime.evaluate", { expression: expr, returnByValue: true, awaitPromise: true }, sessionId);
  if (r.exceptionDetails) throw new Error(expr + ": " + r.exceptionDetails.text);
  return r.result.value;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, expr, seconds) {
  for (let t = 0; t < seconds * 5; t++) {
    const v = await js(expr);
    if (v) return v;
    await sleep(200);
  }
  throw new Error("timed out waiting for " + what);
}
let failed = 0;
const ok = (name, cond) => { console.log((cond ? "ok   " : "FAIL ") + name); if (!cond) failed++; };

(async () => {
  const { targetInfos } = await send("Target.getTargets");
  const page = targetInfos.find((t) => t.type === "page");
  ({ sessionId } = await send("Target.attachToTarget", { targetId: page.targetId, flatten: true }));
  await send("Page.enable", {}, sessionId);
  await send("Runtime.enable", {}, sessionId);
  await send("Page.navigate", { url }, sessionId);
  await until("the page", "document.readyState === 'complete' && !!document.getElementById('add-form')", 30);
  ok("page loads with its totals", await until("totals", "document.getElementById('totals').textContent.includes('cameras: 0')", 30));

  // the form, as a person fills it in: values typed, the button clicked
  await js(`(() => { document.getElementById('add-uri').value = ${JSON.stringify(sample)};
                      document.getElementById('add-name').value = 'from-form';
                      document.getElementById('add-loop').checked = true;
                      document.getElementById('add-button').click(); return true; })()`);
  ok("the form adds camera 0", await until("the camera's card", "!!document.getElementById('camera-0')", 30));
  ok("the page says it was added", (await js("document.getElementById('message').textContent")).includes("added camera 0"));
  const card = "document.getElementById('camera-0')";
  const first = await js(`({ fps: +${card}.dataset.fps, frames: +${card}.dataset.frames })`);
  await until("camera 0 live with frames/s above 0", `${card}.dataset.state === 'live' && +${card}.dataset.fps > 0`, 90);
  const a = await js(`({ fps: +${card}.dataset.fps, frames: +${card}.dataset.frames })`);
  await sleep(3000);
  const b = await js(`({ fps: +${card}.dataset.fps, frames: +${card}.dataset.frames })`);
  ok(`listed live, frames/s rose from ${first.fps} to ${a.fps.toFixed(2)} and frames from ${a.frames} to ${b.frames}`,
     a.fps > 0 && a.fps >= first.fps && b.frames > a.frames);
  ok("its name and state are shown", (await js(`${card}.textContent`)).includes("from-form") &&
     (await js(`${card}.querySelector('.state').textContent`)) === "live");
  ok("its snapshot is shown (768 pixels wide)",
     await until("the snapshot", `${card}.querySelector('img').naturalWidth === 768`, 60));
  const png = await send("Page.captureScreenshot", { format: "png" }, sessionId);
  fs.writeFileSync(shot, Buffer.from(png.data, "base64"));
  ok("screenshot kept: " + shot, fs.statSync(shot).size > 10000);

  await js(`${card}.querySelector('.remove').click(), true`);
  ok("its Remove button removes it", await until("the card to go", "!document.getElementById('camera-0')", 30));
  ok("the API lists no camera", (await js("fetch('/api/cameras').then((r) => r.json()).then((d) => d.length)")) === 0);
  await send("Browser.close").catch(() => {});
  process.exit(failed ? 1 : 0);
})().catch((e) => { console.log("FAIL " + e.message); chrome.kill("SIGKILL"); process.exit(1); });
EOF

timeout 300 node "$TMP/drive.js" "$CHROMIUM" "http://127.0.0.1:$PORT/" "$PWD/$SAMPLE" "$SHOT" "$TMP/profile"
rc=$?
kill -TERM "$SERVE_PID"
wait "$SERVE_PID"
src=$?
SERVE_PID=
[ $src -eq 0 ] && echo "ok   serve exits 0 on SIGTERM" || { echo "FAIL serve exit status $src"; tail -20 "$TMP/serve.err"; }
[ $rc -eq 0 ] && [ $src -eq 0 ]
