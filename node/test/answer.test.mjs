// ask / askStream / models end to end against a real chat model: llama.cpp's llama-server
// serving SmolLM2-135M-Instruct over the OpenAI-compatible API (scripts/provision-llama.sh).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'

import { corpusFile, itassist, options, startLlamaServer } from './helpers.mjs'

const { Assistant } = itassist

describe('answers from a real model server', () => {
  let server
  let assistant

  before(async () => {
    server = await startLlamaServer()
    assistant = await Assistant.open(
      options({ ollamaUrl: server.url, backend: 'openai', model: 'smollm2', topK: 3 }),
    )
    await assistant.ingest([corpusFile('debdocs', 'man', 'openssh', 'scp.1')])
  })

  after(() => server?.stop())

  test('models lists the served model', async () => {
    const models = await assistant.models()
    assert.ok(models.length >= 1)
    assert.equal(typeof models[0].name, 'string')
  })

  test('ask answers with the retrieved sources', async () => {
    const answer = await assistant.ask('How do I copy a file to a remote host with scp?', {
      numPredict: 48,
      temperature: 0,
      seed: 1,
    })
    assert.equal(answer.question, 'How do I copy a file to a remote host with scp?')
    assert.ok(answer.answer.length > 0)
    assert.ok(answer.sources.length >= 1 && answer.sources.length <= 3)
    assert.equal(answer.sources[0].name, 'scp.1')
    assert.ok(Array.isArray(answer.cited))
    assert.ok(answer.timings.totalSeconds > 0)
    assert.ok(answer.timings.retrievalSeconds >= 0)
    assert.ok(answer.contextWindow >= 256)
  })

  test('askStream yields sources, tokens, then done with the whole answer', async () => {
    const events = []
    for await (const event of assistant.askStream('What does scp -r do?', {
      numPredict: 32,
      temperature: 0,
      topK: 2,
    })) {
      events.push(event)
    }
    assert.equal(events[0].type, 'sources')
    assert.equal(events[0].sources.length, 2)
    assert.equal(typeof events[0].droppedPassages, 'number')
    const tokens = events.filter((e) => e.type === 'token')
    assert.ok(tokens.length >= 1)
    const done = events.at(-1)
    assert.equal(done.type, 'done')
    assert.equal(done.answer.answer, tokens.map((t) => t.text).join('').trim())
  })

  test('breaking out of askStream early cancels cleanly', async () => {
    let tokens = 0
    for await (const event of assistant.askStream('Explain scp options.', { numPredict: 64 })) {
      if (event.type === 'token' && ++tokens === 2) break
    }
    assert.equal(tokens, 2)
    // The assistant still answers afterwards.
    const answer = await assistant.ask('What is scp?', { numPredict: 8, noContext: true })
    assert.equal(answer.sources.length, 0)
  })
})
