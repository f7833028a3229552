"""The OpenAI-compatible API of `itassist serve` with the official `openai` Python package.

Run by run.sh, which starts llama-server and the itassist server and sets
ITASSIST_OPENAI_BASE (http://127.0.0.1:PORT/v1) and ITASSIST_API_KEY.
Prints "N passed, N failed" and exits non-zero when a test fails.
"""

import os
import sys
import traceback

import openai

BASE = os.environ["ITASSIST_OPENAI_BASE"]
KEY = os.environ["ITASSIST_API_KEY"]
client = openai.OpenAI(base_url=BASE, api_key=KEY, max_retries=0, timeout=300)


def model_id():
    return client.models.list().data[0].id


def test_models_say_they_answer_from_the_documents():
    models = client.models.list().data
    assert models, "at least one model"
    assert models[0].id.startswith("itassist-docs/"), models[0].id
    assert models[0].owned_by == "itassist"


def test_plain_completion_with_sources_and_usage():
    r = client.chat.completions.create(
        model=model_id(),
        messages=[{"role": "user", "content": "How do I copy a file to another host with scp?"}],
        temperature=0,
        max_tokens=64,
    )
    content = r.choices[0].message.content
    assert r.object == "chat.completion"
    assert r.choices[0].message.role == "assistant"
    assert "\n\n---\nSources:\n[" in content, content
    assert "scp.1" in content, content
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    extra = r.model_extra or {}
    assert extra["sources"][0]["name"] == "scp.1", extra["sources"]
    assert extra["itassist"]["searched_query"].startswith("How do I copy")


def test_streamed_completion_ends_with_sources():
    stream = client.chat.completions.create(
        model=model_id(),
        messages=[{"role": "user", "content": "How do I generate a new SSH key pair?"}],
        stream=True,
        max_tokens=48,
        stream_options={"include_usage": True},
    )
    text, finish, sources, usage = "", None, None, None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
        extra = chunk.model_extra or {}
        sources = extra.get("sources", sources)
    assert finish in ("stop", "length")
    assert "Sources:" in text, text
    assert sources and any(s["name"] == "ssh-keygen.1" for s in sources), sources
    assert usage and usage.completion_tokens > 0


def test_three_turn_conversation_follows_up():
    messages = [{"role": "user", "content": "How do I copy a file to another host with scp?"}]
    for follow_up in (
        "And how do I copy a whole directory recursively?",
        "Which option keeps the modification times?",
    ):
        r = client.chat.completions.create(model=model_id(), messages=messages, max_tokens=48)
        messages.append({"role": "assistant", "content": r.choices[0].message.content})
        messages.append({"role": "user", "content": follow_up})
    r = client.chat.completions.create(model=model_id(), messages=messages, max_tokens=48)
    extra = r.model_extra or {}
    assert extra["itassist"]["history_turns"] == 2, extra["itassist"]
    assert "scp" in extra["itassist"]["searched_query"], extra["itassist"]
    assert extra["sources"][0]["name"] == "scp.1", extra["sources"]


def test_errors_in_openai_shape():
    bad = openai.OpenAI(base_url=BASE, api_key="itk-wrong", max_retries=0)
    try:
        bad.models.list()
        raise AssertionError("a wrong key must be refused")
    except openai.AuthenticationError as e:
        assert e.status_code == 401
        assert e.body["type"] == "authentication_error", e.body
    try:
        client.chat.completions.create(model=model_id(), messages=[{"role": "assistant", "content": "hi"}])
        raise AssertionError("a conversation without a user message must be refused")
    except openai.BadRequestError as e:
        assert e.body["code"] == "invalid_input", e.body
        assert e.body["type"] == "invalid_request_error", e.body
        assert "user" in e.body["message"]


if __name__ == "__main__":
    tests = [(n, f) for n, f in sorted(globals().items()) if n.startswith("test_") and callable(f)]
    failed = 0
    for name, fn in tests:
        try:
            fn()
            print(f"ok   {name}")
        except Exception:  # noqa: BLE001 - report every failure
            failed += 1
            print(f"FAIL {name}")
            traceback.print_exc()
    print(f"{len(tests) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
