// Headless-Chromium test of the page served by `itassist serve`: upload a real corpus file
// (file picker and drag-and-drop) as jobs and see each reach done (and a corrupt PDF reach
// failed, with its error), see it listed, ask, see the streamed answer and its sources
// (with llama-server when LLAMA_SERVER and LLAMA_MODEL are set) or the clear
// `ollama_unreachable` error (otherwise), then delete the document; and check that a page on
// another site cannot upload with the signed-in user's credentials; and that an upload job cut
// short by killing a real `itassist serve` (SIGKILL) resumes at the next start.
//
// Env: ITASSIST_BIN (default $CARGO_TARGET_DIR/debug/itassist), CHROMIUM (default
// /usr/bin/chromium), ORT_DYLIB_PATH and ITASSIST_MODEL_DIR for the embedding model.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, existsSync, openSync, readFileSync } from "node:fs";
import { tmpdir, homedir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { createServer } from "node:net";
import { createServer as createHttpServer } from "node:http";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const corpus = resolve(here, "../../../../shared/corpus");
const targetDir = process.env.CARGO_TARGET_DIR || resolve(here, "../../../target");
const bin = process.env.ITASSIST_BIN || join(targetDir, "debug/itassist");
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
const USER = "tester";
const PASSWORD = "pa55-word for the browser";

const tmp = mkdtempSync(join(tmpdir(), "itassist-ui-"));
const children = [];
let base, browser, env;
let llamaUrl = null;

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => ok(port)); });
    s.on("error", fail);
  });
}

async function waitFor(url, ms) {
  const until = Date.now() + ms;
  for (;;) {
    try { const r = await fetch(url); if (r.ok) return; } catch (_) { /* not up yet */ }
    if (Date.now() > until) throw new Error(`${url} did not come up within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

before(async () => {
  assert.ok(existsSync(bin), `${bin} missing: cargo build -p itassist-cli first`);
  assert.ok(existsSync(chromiumPath), `${chromiumPath} missing: apt-get install chromium`);
  const hash = execFileSync(bin, ["serve", "--hash-password"], { input: PASSWORD + "\n" }).toString().trim();
  env = { ...process.env, ITASSIST_USERS: `${USER}:${hash}` };
  env.ORT_DYLIB_PATH ||= join(homedir(), ".cache/itassist/onnxruntime/libonnxruntime.so.1.32.0");
  env.ITASSIST_MODEL_DIR ||= join(homedir(), ".cache/itassist/models/all-MiniLM-L6-v2-int8");
  const args = ["--data-dir", join(tmp, "data")];
  if (process.env.LLAMA_SERVER && process.env.LLAMA_MODEL) {
    const lport = await freePort();
    const log = openSync(join(tmp, "llama-server.log"), "w");
    children.push(spawn(process.env.LLAMA_SERVER, ["-m", process.env.LLAMA_MODEL, "--host", "127.0.0.1",
      "--port", String(lport), "-c", "4096", "-t", "1", "-np", "1"], { stdio: ["ignore", log, log] }));
    llamaUrl = `http://127.0.0.1:${lport}`;
    await waitFor(`${llamaUrl}/health`, 120000);
    args.push("--backend", "openai", "--ollama-url", llamaUrl);
  } else {
    args.push("--ollama-url", `http://127.0.0.1:${await freePort()}`); // nothing listens there
  }
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const log = openSync(join(tmp, "server.log"), "w");
  children.push(spawn(bin, [...args, "serve", "--addr", `127.0.0.1:${port}`], { env, stdio: ["ignore", log, log] }));
  await waitFor(`${base}/health`, 60000);
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run"],
    // playwright-core gives launch() a fresh temporary user-data-dir of its own.
  });
});

after(async () => {
  if (browser) await browser.close();
  for (const c of children) c.kill("SIGTERM");
  rmSync(tmp, { recursive: true, force: true });
});

test("without credentials the page is refused", async () => {
  const r = await fetch(base + "/");
  assert.equal(r.status, 401);
  assert.match(r.headers.get("www-authenticate"), /^Basic realm="itassist"/);
});

test("upload, list, ask, sources, delete", { timeout: 300000 }, async () => {
  const context = await browser.newContext({ httpCredentials: { username: USER, password: PASSWORD } });
  const page = await context.newPage();
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  await page.goto(base + "/");
  await page.waitForSelector("#health.status");

  // Upload a real file with the file picker.
  await page.setInputFiles("#file-input", join(corpus, "debdocs/html/apt-offline/ch1.html"));
  await page.waitForSelector('#upload-result li[data-status="added"]', { timeout: 120000 });
  assert.equal(await page.$eval("#upload-progress", (el) => el.value), 100);
  const done = page.locator('#upload-result li[data-state="done"]');
  assert.match(await done.first().textContent(), /ch1\.html: added \(\d+ chunks\)/);
  await page.waitForSelector('#docs tr:has-text("ch1.html")');

  // A corrupt PDF: its job ends failed, with the error code and message on its line.
  await page.setInputFiles("#file-input", { name: "broken.pdf", mimeType: "application/pdf",
    buffer: Buffer.from("%PDF-1.7\nthis is not a real PDF\n") });
  const failed = page.locator('#upload-result li[data-state="failed"]');
  await failed.waitFor({ timeout: 120000 });
  assert.match(await failed.textContent(), /broken\.pdf: failed \(corrupt_document: .*broken\.pdf.*corrupt/);
  assert.ok(!(await page.locator('#docs tr:has-text("broken.pdf")').count()), "nothing indexed");

  // And one by drag-and-drop.
  await page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(["apt-offline fetches updates on a machine with a network connection."], "dropped.txt", { type: "text/plain" }));
    document.getElementById("drop").dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  await page.waitForSelector('#docs tr:has-text("dropped.txt")', { timeout: 120000 });

  // Ask.
  await page.fill("#question", "What does apt-offline do?");
  await page.click("#ask");
  if (llamaUrl) {
    await page.waitForSelector("#sources li.source", { timeout: 240000 });
    await page.waitForFunction(() => document.getElementById("ask-status").textContent === "done", null, { timeout: 240000 });
    const answer = await page.textContent("#answer");
    assert.ok(answer.trim().length > 0, "an answer was streamed");
    const first = page.locator("#sources li.source").first();
    assert.match(await first.textContent(), /\[1\] (ch1\.html|dropped\.txt)/);
    await first.click();
    assert.ok(await first.evaluate((el) => el.classList.contains("open")), "the source opens on click");
    assert.ok(await page.locator("#docs tr.highlight").count() === 1, "its document is highlighted");

    // A follow-up continues the conversation: the first turn moves to the thread, and the
    // follow-up is searched with the earlier question's words.
    await page.fill("#question", "And how does it get the updates onto the offline machine?");
    await page.click("#ask");
    await page.waitForFunction(() => document.getElementById("ask-status").textContent === "done", null, { timeout: 240000 });
    assert.equal(await page.locator("#thread li.turn").count(), 1, "the first turn is in the thread");
    assert.match(await page.textContent("#thread li.turn .q"), /What does apt-offline do\?/);
    assert.match(await page.textContent("#searched"), /searched: .*apt-offline/);
    const auth = "Basic " + Buffer.from(`${USER}:${PASSWORD}`).toString("base64");
    const list = await (await fetch(base + "/conversations", { headers: { Authorization: auth } })).json();
    assert.equal(list.conversations.length, 1);
    assert.equal(list.conversations[0].turns, 2);
    // A new conversation starts an empty thread.
    await page.click("#new-conversation");
    assert.equal(await page.locator("#thread li.turn").count(), 0);
  } else {
    await page.waitForSelector("#error.shown", { timeout: 60000 });
    assert.equal(await page.getAttribute("#error", "data-code"), "ollama_unreachable");
    assert.match(await page.textContent("#error"), /cannot reach the model server/);
  }

  // Delete both documents.
  for (const name of ["ch1.html", "dropped.txt"]) {
    await page.locator(`#docs tr:has-text("${name}") button.delete`).click();
    await page.waitForSelector(`#docs tr:has-text("${name}")`, { state: "detached" });
  }
  assert.equal(await page.locator("#docs tr").count(), 0);
  assert.deepEqual(pageErrors, []);
  await context.close();
});

test("a page on another site cannot upload with the user's credentials", { timeout: 120000 }, async () => {
  // The attacker's page, on another origin: it fills a file input by script and submits a
  // multipart form to the assistant (a top-level navigation: the browser would send the user's
  // Basic credentials). The server must refuse it as a cross-site request.
  const evil = createHttpServer((req, res) => {
    res.writeHead(200, { "Content-Type": "text/html" });
    res.end(`<!doctype html><form id="f" method="POST" enctype="multipart/form-data" action="${base}/upload/">
      <input type="file" name="files" id="i"></form>
      <script>
        const dt = new DataTransfer();
        dt.items.add(new File(["planted by another site"], "planted.txt", { type: "text/plain" }));
        document.getElementById("i").files = dt.files;
        document.getElementById("f").submit();
      </script>`);
  });
  await new Promise((ok) => evil.listen(0, "localhost", ok));
  const evilUrl = `http://localhost:${evil.address().port}/`;
  const context = await browser.newContext({ httpCredentials: { username: USER, password: PASSWORD } });
  try {
    const page = await context.newPage();
    await page.goto(base + "/"); // the user is signed in to the assistant
    const answered = page.waitForResponse((r) => r.url().startsWith(base + "/upload/"));
    await page.goto(evilUrl);
    const response = await answered;
    assert.equal(response.status(), 403);
    assert.equal((await response.json()).error.code, "forbidden_origin");
    const auth = "Basic " + Buffer.from(`${USER}:${PASSWORD}`).toString("base64");
    const docs = await (await fetch(base + "/documents", { headers: { Authorization: auth } })).json();
    assert.ok(!docs.documents.some((d) => d.name === "planted.txt"), "nothing was indexed");
  } finally {
    await context.close();
    evil.close();
  }
});

test("a job cut short by killing the server resumes at the next start", { timeout: 600000 }, async () => {
  // A server of its own, on its own index, killed with SIGKILL while it ingests an upload.
  const data = join(tmp, "killed-data");
  const auth = "Basic " + Buffer.from(`${USER}:${PASSWORD}`).toString("base64");
  const start = async () => {
    const port = await freePort();
    const log = openSync(join(tmp, `killed-server-${port}.log`), "w");
    const child = spawn(bin, ["--data-dir", data, "--ollama-url", `http://127.0.0.1:${await freePort()}`,
      "serve", "--addr", `127.0.0.1:${port}`], { env, stdio: ["ignore", log, log] });
    children.push(child);
    const url = `http://127.0.0.1:${port}`;
    await waitFor(`${url}/health`, 120000);
    return { child, url };
  };
  const job = async (url, id) => (await fetch(`${url}/jobs/${id}`, { headers: { Authorization: auth } })).json();

  const first = await start();
  const form = new FormData();
  form.append("files", new Blob([readFileSync(join(corpus, "debdocs/pdf/fhs-3.0.pdf"))]), "fhs-3.0.pdf");
  const queued = await (await fetch(`${first.url}/upload/`, { method: "POST", body: form, headers: { Authorization: auth } })).json();
  const id = queued.jobs[0].id;
  // Kill it once the job is running.
  for (let until = Date.now() + 300000; ; ) {
    const j = await job(first.url, id);
    if (j.state === "running") break;
    assert.notEqual(j.state, "done", "the job ended before the server could be killed: use a larger file");
    assert.ok(Date.now() < until, `job ${id} did not start: ${JSON.stringify(j)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const exited = new Promise((ok) => first.child.once("exit", ok));
  first.child.kill("SIGKILL");
  await exited;
  assert.ok(existsSync(join(data, "jobs", `${id}.upload`)), "the staged upload survives the kill");

  // The next start resumes the job from its staged file; it ends done and searchable.
  const second = await start();
  let j;
  for (let until = Date.now() + 480000; ; ) {
    j = await job(second.url, id);
    if (j.state === "done" || j.state === "failed") break;
    assert.ok(Date.now() < until, `job ${id} did not end after the restart: ${JSON.stringify(j)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(j.state, "done", JSON.stringify(j));
  assert.equal(j.result.status, "added");
  assert.equal(j.attempts, 2);
  assert.ok(!existsSync(join(data, "jobs", `${id}.upload`)), "the staged upload is deleted at the end");
  const docs = await (await fetch(`${second.url}/documents`, { headers: { Authorization: auth } })).json();
  assert.deepEqual(docs.documents.map((d) => d.name), ["fhs-3.0.pdf"], "one document, nothing half-written");
  second.child.kill("SIGTERM");
});
