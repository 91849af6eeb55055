"""Actions that reach the outside world (issue 12) on the real cluster: the seed's AI
conversation streamed through the database from the stand-in AI server (Tests/aistandin).

- an action called on a replica streams an answer that a subscriber on another node sees grow;
- the streaming updates are debounced (counted on the message, bounded by the stream's length);
- aiConversations:send answers through the scheduler;
- an `error` event and a dropped connection each end the message complete with an error;
- an anonymous call makes no request to the AI server;
- a scheduler killed mid-answer leaves no message that looks in progress forever;
- a node told to stop mid-answer cancels the action instead of waiting for the answer.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any, Dict, List, Optional

import pytest

from clients import RemoteError
from conftest import AI_STALL_SECONDS
from harness import wait_until
from server import ANSWER_TEXT, CHUNK_COUNT

#: The message a user sees on an answer whose generation stopped (Sources/ChatExample/AIConversations.swift).
INTERRUPTED = "The answer was interrupted (the server generating it stopped); ask again to get a full answer."


def _conversation(cluster, user) -> str:
    return cluster.http("writer", "mutation", "aiConversations:create", {"title": f"t-{uuid.uuid4().hex[:6]}"}, token=user.token)


def _ai_messages(value: Any) -> List[Dict[str, Any]]:
    return [m for m in (value or []) if m.get("isAiGenerated")]


def _messages(cluster, node: str, user, conversation: str) -> List[Dict[str, Any]]:
    return cluster.http(node, "query", "aiConversations:getMessages", {"conversationId": conversation}, token=user.token)


def _stream_for(ai_standin, prompt: str) -> Dict[str, Any]:
    streams = [s for s in ai_standin.stats.snapshot()["streams"] if s["prompt"] == prompt]
    assert len(streams) == 1, f"expected one request for {prompt!r}, the stand-in saw {len(streams)}"
    return streams[0]


def test_an_answer_streamed_on_a_replica_grows_for_a_subscriber_on_the_writer(cluster, user, ai_standin, client_on, subscribe_on):
    conversation = _conversation(cluster, user)
    watcher = subscribe_on("writer", "aiConversations:getMessages", {"conversationId": conversation})
    assert watcher.next_value() == []
    prompt = f"stream please {uuid.uuid4().hex[:6]}"

    message_id = client_on("replica1").action("ai:generateAIResponse", {"conversationId": conversation, "userMessage": prompt})

    final = watcher.wait_for(lambda v: any(m.get("isComplete") for m in _ai_messages(v)), timeout=60, description="the complete answer")
    [answer] = _ai_messages(final)
    assert answer["_id"] == message_id
    assert answer["content"] == ANSWER_TEXT
    assert answer["isComplete"] is True and "error" not in answer
    partials = []
    for value in watcher.values:
        for m in _ai_messages(value):
            if not m["isComplete"] and (not partials or partials[-1] != m["content"]):
                partials.append(m["content"])
    assert len(partials) >= 5, f"the subscriber saw only {len(partials)} partial states: {partials}"
    for text in partials:
        assert ANSWER_TEXT.startswith(text), f"a partial state is not a prefix of the answer: {text!r}"
    assert [len(t) for t in partials] == sorted(len(t) for t in partials), "the answer shrank between states"

    # The debounce: at most one update per 100 ms while text arrived, then the final one. The
    # stand-in timed the stream; the message counts its updates.
    stream = _stream_for(ai_standin, prompt)
    assert stream["outcome"] == "complete" and stream["pieces"] == CHUNK_COUNT
    seconds = stream["lastDelta"] - stream["firstDelta"]
    bound = int(seconds / 0.1) + 2
    print(f"{CHUNK_COUNT} pieces over {seconds:.2f} s -> {answer['updates']:.0f} updates (bound {bound}), "
          f"{len(partials)} partial states seen on the writer")
    assert 5 <= answer["updates"] <= bound, f"{answer['updates']} updates for a {seconds:.2f} s stream (bound {bound})"
    assert answer["updates"] < CHUNK_COUNT, "every piece of text was written: no debounce"


def test_send_stores_the_message_and_the_scheduler_streams_the_reply(cluster, user, ai_standin, client_on, subscribe_on):
    conversation = _conversation(cluster, user)
    watcher = subscribe_on("replica1", "aiConversations:getMessages", {"conversationId": conversation})
    prompt = f"scheduled {uuid.uuid4().hex[:6]}"
    user_message = client_on("replica1").mutation("aiConversations:send", {"conversationId": conversation, "content": prompt})

    final = watcher.wait_for(lambda v: any(m.get("isComplete") for m in _ai_messages(v)), timeout=60, description="the reply")
    mine, reply = final
    assert mine["_id"] == user_message and mine["content"] == prompt and mine["isAiGenerated"] is False
    assert reply["content"] == ANSWER_TEXT and reply["isComplete"] is True and "error" not in reply
    assert _stream_for(ai_standin, prompt)["outcome"] == "complete"


@pytest.mark.parametrize("failure, error", [
    ("[error]", "The AI service failed mid-answer (overloaded_error): Overloaded"),
    ("[drop]", None),  # names the stand-in's port: checked below
])
def test_a_failed_stream_ends_complete_with_its_error_and_the_text_so_far(cluster, user, ai_standin, client_on, failure, error):
    conversation = _conversation(cluster, user)
    prompt = f"fail {failure} {uuid.uuid4().hex[:6]}"
    with pytest.raises(RemoteError) as raised:
        client_on("replica1").action("ai:generateAIResponse", {"conversationId": conversation, "userMessage": prompt})
    [answer] = _ai_messages(_messages(cluster, "replica1", user, conversation))
    stream = _stream_for(ai_standin, prompt)
    assert answer["isComplete"] is True
    assert answer["content"] == stream["text"] and stream["text"] and ANSWER_TEXT.startswith(stream["text"])
    if error is None:
        assert stream["outcome"] == "dropped"
        port = ai_standin.server_address[1]
        assert answer["error"] == f"Could not reach the AI service: 127.0.0.1:{port} closed the connection before the response ended"
    else:
        assert answer["error"] == error
    assert answer["error"] in raised.value.message


def test_an_anonymous_call_makes_no_request_to_the_ai_server(cluster, user, ai_standin, client_on):
    conversation = _conversation(cluster, user)
    before = ai_standin.stats.snapshot()["requests"]
    with pytest.raises(RemoteError) as raised:
        client_on("replica1", token=None).action("ai:generateAIResponse", {"conversationId": conversation, "userMessage": "hi"})
    assert "Unauthenticated" in raised.value.message
    assert ai_standin.stats.snapshot()["requests"] == before
    assert _messages(cluster, "writer", user, conversation) == []


def test_a_scheduler_killed_mid_answer_leaves_no_answer_in_progress_forever(cluster, user, ai_standin, client_on, subscribe_on):
    conversation = _conversation(cluster, user)
    watcher = subscribe_on("writer", "aiConversations:getMessages", {"conversationId": conversation})
    prompt = f"[slow] kill the scheduler {uuid.uuid4().hex[:6]}"
    cluster.http("replica1", "mutation", "aiConversations:send", {"conversationId": conversation, "content": prompt}, token=user.token)
    partial = watcher.wait_for(lambda v: any(m["content"] and not m["isComplete"] for m in _ai_messages(v)), timeout=60,
                               description="the reply half-written")
    cluster.kill("scheduler")
    cluster.restart("scheduler")
    # The new scheduler fails the abandoned action job and runs the answer's stall watchdog,
    # which finalises it AI_STALL_SECONDS after its last change.
    final = watcher.wait_for(lambda v: all(m["isComplete"] for m in _ai_messages(v)), timeout=AI_STALL_SECONDS + 60,
                             description="the interrupted reply finalised")
    [answer] = _ai_messages(final)
    assert answer["error"] == INTERRUPTED
    assert answer["content"].startswith(_ai_messages(partial)[0]["content"]) and ANSWER_TEXT * 3 != answer["content"]
    assert _stream_for(ai_standin, prompt)["outcome"] in ("client went away", "complete")


def test_a_node_stopped_mid_answer_cancels_the_action_and_stops_promptly(cluster, user, ai_standin, subscribe_on):
    conversation = _conversation(cluster, user)
    watcher = subscribe_on("writer", "aiConversations:getMessages", {"conversationId": conversation})
    prompt = f"[slow] stop the node {uuid.uuid4().hex[:6]}"
    outcome: Dict[str, Any] = {}

    def call() -> None:
        try:
            outcome["value"] = cluster.http("replica1", "action", "ai:generateAIResponse",
                                            {"conversationId": conversation, "userMessage": prompt}, token=user.token)
        except Exception as exc:  # noqa: BLE001 - whatever the stopping node answered
            outcome["error"] = str(exc)

    caller = threading.Thread(target=call)
    caller.start()
    watcher.wait_for(lambda v: any(m["content"] and not m["isComplete"] for m in _ai_messages(v)), timeout=60,
                     description="the answer half-written")
    started = time.monotonic()
    try:
        cluster.script("stop", "replica1", timeout=60)  # SIGTERM; SIGKILL after 10 s
        took = time.monotonic() - started
    finally:
        caller.join(timeout=60)
        cluster.restart("replica1")
    final = watcher.wait_for(lambda v: all(m["isComplete"] for m in _ai_messages(v)), timeout=AI_STALL_SECONDS + 60,
                             description="the interrupted answer finalised")
    [answer] = _ai_messages(final)
    print(f"replica1 stopped {took:.2f} s after SIGTERM mid-answer; the caller got {outcome}")
    # The slow answer streams for 12 s: a node that waited for it would be SIGKILLed at 10 s.
    assert took < 5, f"replica1 took {took:.1f} s to stop"
    assert answer["error"] == INTERRUPTED
    assert "value" not in outcome
