// chat / chatStream / stored conversations end to end against a real chat model (llama.cpp's
// llama-server with SmolLM2-135M over the OpenAI-compatible API) and a real index.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'

import { corpusFile, itassist, options, startLlamaServer } from './helpers.mjs'

const { Assistant } = itassist

describe('conversations with a real model server', () => {
  let server
  let assistant

  before(async () => {
    server = await startLlamaServer()
    assistant = await Assistant.open(
      options({ ollamaUrl: server.url, backend: 'openai', model: 'smollm2', topK: 2 }),
    )
    await assistant.ingest([
      corpusFile('debdocs', 'man', 'openssh', 'ssh-keygen.1'),
      corpusFile('debdocs', 'man', 'openssh', 'scp.1'),
    ])
  })

  after(() => server?.stop())

  test('a follow-up is searched with the earlier turn', async () => {
    const answer = await assistant.chat(
      [
        { role: 'user', content: 'How do I create a new SSH key pair with ssh-keygen?' },
        { role: 'assistant', content: 'Run ssh-keygen -t ed25519.' },
        { role: 'user', content: 'and how do I change its passphrase?' },
      ],
      { numPredict: 24, temperature: 0, seed: 1 },
    )
    assert.equal(answer.question, 'and how do I change its passphrase?')
    // The searched query carries the earlier turn's subject, so the key tool's page is found.
    assert.ok(answer.searchedQuery && answer.searchedQuery !== answer.question, answer.searchedQuery)
    assert.equal(answer.sources[0].name, 'ssh-keygen.1')
    assert.ok(answer.historyTurns >= 1)
    assert.equal(typeof answer.droppedTurns, 'number')
    assert.ok(Array.isArray(answer.warnings))
  })

  test('chatStream yields sources, tokens and the whole answer', async () => {
    const events = []
    for await (const event of assistant.chatStream(
      [{ role: 'user', content: 'What does scp -r do?' }],
      { numPredict: 16, temperature: 0 },
    )) {
      events.push(event)
    }
    assert.equal(events[0].type, 'sources')
    assert.equal(events.at(-1).type, 'done')
    assert.equal(events.at(-1).answer.question, 'What does scp -r do?')
  })

  test('a stored conversation keeps its turns and sources, and can be deleted', async () => {
    const created = await assistant.newConversation('ssh keys')
    assert.equal(created.title, 'ssh keys')
    assert.deepEqual(created.turns, [])
    const first = await assistant.continueConversation(
      created.id,
      'How do I create a new SSH key pair with ssh-keygen?',
      { numPredict: 16, temperature: 0 },
    )
    assert.equal(first.conversationId, created.id)
    const events = []
    for await (const event of assistant.continueConversationStream(
      created.id,
      'and how do I change its passphrase?',
      { numPredict: 16, temperature: 0 },
    )) {
      events.push(event)
    }
    assert.equal(events.at(-1).type, 'done')

    const stored = await assistant.conversation(created.id)
    assert.equal(stored.turns.length, 2)
    assert.equal(stored.turns[1].question, 'and how do I change its passphrase?')
    assert.ok(stored.turns[0].sources.length >= 1)
    const listed = await assistant.conversations()
    assert.ok(listed.some((c) => c.id === created.id && c.turns === 2))

    await assistant.deleteConversation(created.id)
    await assert.rejects(assistant.conversation(created.id), (e) => e.code === 'conversation_not_found')
    await assert.rejects(assistant.conversation(-1), (e) => e.code === 'conversation_not_found')
  })

  test('messages without a user question are rejected with the core code', async () => {
    await assert.rejects(
      assistant.chat([{ role: 'assistant', content: 'hello' }]),
      (e) => e.code === 'invalid_input',
    )
  })
})
