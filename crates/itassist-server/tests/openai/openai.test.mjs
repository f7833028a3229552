// The OpenAI-compatible API of `itassist serve` with the official `openai` npm package.
// Run by run.sh, which starts llama-server and the itassist server and sets
// ITASSIST_OPENAI_BASE (http://127.0.0.1:PORT/v1) and ITASSIST_API_KEY.
import { test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";

const baseURL = process.env.ITASSIST_OPENAI_BASE;
const apiKey = process.env.ITASSIST_API_KEY;
assert.ok(baseURL && apiKey, "ITASSIST_OPENAI_BASE and ITASSIST_API_KEY are set by run.sh");
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 300000 });

async function modelId() {
  const page = await client.models.list();
  return page.data[0].id;
}

test("models say they answer from the documents", async () => {
  const page = await client.models.list();
  assert.ok(page.data.length > 0);
  assert.match(page.data[0].id, /^itassist-docs\//);
});

test("a plain completion has the sources and usage", { timeout: 300000 }, async () => {
  const r = await client.chat.completions.create({
    model: await modelId(),
    messages: [{ role: "user", content: "How do I copy a file to another host with scp?" }],
    temperature: 0,
    max_tokens: 64,
  });
  const content = r.choices[0].message.content;
  assert.match(content, /\n\n---\nSources:\n\[\d+\] .*scp\.1/);
  assert.ok(r.usage.prompt_tokens > 0 && r.usage.completion_tokens > 0);
  assert.equal(r.sources[0].name, "scp.1");
});

test("a streamed completion ends with the sources", { timeout: 300000 }, async () => {
  const stream = await client.chat.completions.create({
    model: await modelId(),
    messages: [{ role: "user", content: "How do I generate a new SSH key pair?" }],
    stream: true,
    max_tokens: 48,
    stream_options: { include_usage: true },
  });
  let text = "";
  let finish = null;
  let sources = null;
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.delta?.content ?? "";
      finish = c.finish_reason ?? finish;
    }
    if (chunk.sources) sources = chunk.sources;
  }
  assert.ok(["stop", "length"].includes(finish));
  assert.match(text, /Sources:/);
  assert.ok(sources.some((s) => s.name === "ssh-keygen.1"), JSON.stringify(sources));
  assert.ok(usage.completion_tokens > 0);
});

test("a three-turn conversation follows up", { timeout: 600000 }, async () => {
  const model = await modelId();
  const messages = [{ role: "user", content: "How do I copy a file to another host with scp?" }];
  for (const followUp of ["And how do I copy a whole directory recursively?", "Which option keeps the modification times?"]) {
    const r = await client.chat.completions.create({ model, messages, max_tokens: 48 });
    messages.push({ role: "assistant", content: r.choices[0].message.content });
    messages.push({ role: "user", content: followUp });
  }
  const r = await client.chat.completions.create({ model, messages, max_tokens: 48 });
  assert.equal(r.itassist.history_turns, 2);
  assert.match(r.itassist.searched_query, /scp/);
  assert.equal(r.sources[0].name, "scp.1");
});

test("errors come in OpenAI's shape", async () => {
  const bad = new OpenAI({ baseURL, apiKey: "itk-wrong", maxRetries: 0 });
  await assert.rejects(bad.models.list(), (e) => {
    assert.ok(e instanceof OpenAI.AuthenticationError);
    assert.equal(e.status, 401);
    assert.equal(e.error.type, "authentication_error");
    return true;
  });
});
