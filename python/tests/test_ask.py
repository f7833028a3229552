"""ask / ask_stream / models end to end against a real chat-model server (llama-server).

Runs when LLAMA_SERVER and LLAMA_MODEL point to the binary and the GGUF model made by
`scripts/provision-llama.sh`; the error paths are in test_errors.py.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

import itassist

SERVER = os.environ.get("LLAMA_SERVER", "")
MODEL = os.environ.get("LLAMA_MODEL", "")



@pytest.fixture(scope="module", autouse=True)
def _llama_server_is_provisioned() -> None:
    from conftest import require

    require(
        bool(SERVER and MODEL) and Path(SERVER).exists() and Path(MODEL).exists(),
        "LLAMA_SERVER and LLAMA_MODEL: run `bash scripts/provision-llama.sh`",
    )


@pytest.fixture(scope="module")
def llama_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path_factory.mktemp("llama") / "server.log", "wb")
    proc = subprocess.Popen(
        [SERVER, "-m", MODEL, "--host", "127.0.0.1", "--port", str(port),
         "-c", "4096", "-t", "1", "-np", "1"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("llama-server did not start")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


@pytest.fixture()
def chat(assistant: itassist.Assistant, llama_url: str) -> itassist.Assistant:
    # Its own index directory: another configuration cannot share the session's open index.
    a = itassist.Assistant(
        Path(str(assistant.data_dir) + "-chat"), model_dir=os.environ["ITASSIST_MODEL_DIR"],
        ollama_url=llama_url, backend="openai", num_predict=48, temperature=0.0, seed=1,
        ocr=False,
    )
    if a.stats().documents == 0:
        from conftest import BASE_DOCS

        a.ingest(BASE_DOCS)
    return a


def test_models(chat: itassist.Assistant) -> None:
    models = chat.models()
    assert models and isinstance(models[0], itassist.ModelInfo) and models[0].name
    assert repr(models[0]).startswith("ModelInfo(name=")


def test_ask(chat: itassist.Assistant) -> None:
    answer = chat.ask("How do I copy my public key to a server?", top_k=2)
    assert isinstance(answer, itassist.Answer)
    assert answer.answer and str(answer) == answer.answer
    assert len(answer.sources) == 2 and isinstance(answer.sources[0], itassist.Passage)
    assert answer.timings.generated_tokens
    assert answer.question.startswith("How do I copy")
    assert repr(answer).startswith("Answer(model=")
    assert all(1 <= n <= 2 for n in answer.cited)
    assert answer.to_dict()["answer"] == answer.answer


def test_ask_stream(chat: itassist.Assistant) -> None:
    stream = chat.ask_stream("What does scp -r do?", top_k=2)
    assert stream.answer is None
    tokens = list(stream)
    assert tokens and all(isinstance(t, str) for t in tokens)
    assert stream.answer is not None
    assert "".join(tokens).strip() == stream.answer.answer
    assert stream.sources is not None and len(stream.sources) == 2
    assert stream.dropped_passages == 0


def test_async_ask_and_stream(chat: itassist.Assistant) -> None:
    a = itassist.AsyncAssistant.from_sync(chat)

    async def main() -> None:
        models = await a.models()
        assert models
        answer = await a.ask("What does ssh-add -l list?", top_k=1, num_predict=24)
        assert answer.answer
        stream = a.ask_stream("What does ssh-add -D do?", top_k=1, num_predict=24)
        tokens = [t async for t in stream]
        assert tokens and stream.answer is not None
        direct = await a.ask("Say hello.", no_context=True, num_predict=8)
        assert direct.sources == []

    asyncio.run(main())


FOLLOW_UP = [
    {"role": "user", "content": "How do I add my private key to the ssh agent?"},
    {"role": "assistant", "content": "Run ssh-add with the key file."},
    {"role": "user", "content": "and how do I remove all of them again?"},
]


def test_chat_searches_the_follow_up_with_the_earlier_turn(chat: itassist.Assistant) -> None:
    answer = chat.chat(FOLLOW_UP, top_k=2, num_predict=24)
    assert answer.question == "and how do I remove all of them again?"
    assert answer.searched_query and answer.searched_query != answer.question
    assert answer.sources[0].name == "ssh-add.1"
    assert answer.history_turns >= 1 and answer.dropped_turns == 0
    assert isinstance(answer.warnings, list)
    stream = chat.chat_stream(FOLLOW_UP, top_k=1, num_predict=16)
    assert "".join(stream).strip() == stream.answer.answer
    with pytest.raises(itassist.InvalidInputError):
        chat.chat([{"role": "assistant", "content": "hi"}])
    with pytest.raises(TypeError):
        chat.chat("not a list of messages")


def test_stored_conversations(chat: itassist.Assistant) -> None:
    created = chat.new_conversation("agent keys")
    assert created["title"] == "agent keys" and created["turns"] == []
    first = chat.continue_conversation(created["id"], FOLLOW_UP[0]["content"], num_predict=16)
    assert first.conversation_id == created["id"]
    stream = chat.continue_conversation_stream(created["id"], FOLLOW_UP[2]["content"], num_predict=16)
    list(stream)
    stored = chat.conversation(created["id"])
    assert [t["question"] for t in stored["turns"]] == [
        FOLLOW_UP[0]["content"], FOLLOW_UP[2]["content"]
    ]
    assert stored["turns"][0]["sources"]
    assert any(c["id"] == created["id"] and c["turns"] == 2 for c in chat.conversations())

    async def main() -> None:
        a = itassist.AsyncAssistant.from_sync(chat)
        answer = await a.chat(FOLLOW_UP, top_k=1, num_predict=16)
        assert answer.sources
        gone = await a.delete_conversation(created["id"])
        assert gone["id"] == created["id"]

    asyncio.run(main())
    with pytest.raises(itassist.ConversationNotFoundError) as caught:
        chat.conversation(created["id"])
    assert caught.value.code == "conversation_not_found"
    assert isinstance(caught.value, LookupError)
