"""Live queries through the official client's blocking `subscribe()` iterator.

Each subscription runs in its own process (subscriber.py) because the iterator holds the GIL
while it waits (protocol.md §11); writes come from other client processes.

Protocol assumptions:
- A subscription's first result arrives in the Transition that answers its ModifyQuerySet Add;
  a commit that changes its result produces a Transition with a QueryUpdated (§3.3, §10.2).
- The client may yield the same value again (§11), so tests wait for a *value*, never count yields.
- "A write to one channel does not push to the other" is checked at the level the Python client
  can see: after the written channel's subscriber has received the update, the other channel's
  subscriber yields no *different* value within a quiet window (RIPPLE_CONFORMANCE_QUIET_WINDOW,
  default 1.5 s). A negative can only be checked over a bounded time; the window starts only
  once the positive condition (the first subscriber's update) has been observed, and afterwards
  the second subscription is shown to be live by writing to its own channel.
  test_raw_protocol.py checks the stricter wire-level property (no QueryUpdated at all for the
  untouched query).
- users:getCurrentUser reruns when the socket's identity changes (set_auth / clear_auth), since
  all queries are rerun on an identity change (§3.3).
"""

from __future__ import annotations

import os
import time
import uuid

import pytest

LATENCY = float(os.environ.get("RIPPLE_CONFORMANCE_LATENCY", "1.0"))
QUIET_WINDOW = float(os.environ.get("RIPPLE_CONFORMANCE_QUIET_WINDOW", "1.5"))
FIRST_RESULT_TIMEOUT = 30.0


def _contents(messages):
    assert isinstance(messages, list), f"getMessages returned {messages!r}"
    return [m["content"] for m in messages]


def _has(content):
    return lambda messages: isinstance(messages, list) and content in _contents(messages)


def _unique(prefix="msg"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_initial_result_then_live_update_within_latency(user, client_factory, subscribe):
    channel = user.create_channel()
    sub = subscribe("messages:getMessages", {"channelId": channel}, user.token)
    assert sub.next_value(FIRST_RESULT_TIMEOUT) == [], "a new channel has no messages"

    writer = client_factory(user.token)  # a different client (and process) than the subscriber
    content = _unique()
    sent_at = time.time()
    message_id = writer.mutation("messages:sendMessage", {"channelId": channel, "content": content})
    result = sub.wait_for(_has(content), timeout=15, description=f"the message {content!r}")
    latency = sub.matched_at - sent_at
    assert latency <= LATENCY, f"the update reached the subscriber {latency:.3f} s after the mutation was sent (limit {LATENCY} s)"

    [message] = result
    assert message["_id"] == message_id
    assert isinstance(message["_id"], str) and message["_id"]
    assert type(message["_creationTime"]) is float, f"_creationTime must be a Float64, got {message['_creationTime']!r}"
    assert abs(message["_creationTime"] / 1000 - time.time()) < 3600, "_creationTime is milliseconds since the epoch"
    assert message["channelId"] == channel
    assert message["userId"] == user.user_id
    assert message["content"] == content
    assert type(message["timestamp"]) is float


def test_messages_arrive_newest_first(user, subscribe):
    channel = user.create_channel()
    sub = subscribe("messages:getMessages", {"channelId": channel})
    assert sub.next_value(FIRST_RESULT_TIMEOUT) == []
    first, second, third = _unique("a"), _unique("b"), _unique("c")
    for content in (first, second, third):
        user.send(channel, content)
    result = sub.wait_for(lambda v: len(v) == 3, timeout=15, description="three messages")
    assert _contents(result) == [third, second, first], "messages:getMessages orders by timestamp, newest first"


def test_write_to_one_channel_does_not_change_the_other(user, subscribe):
    channel_a = user.create_channel()
    channel_b = user.create_channel()
    sub_a = subscribe("messages:getMessages", {"channelId": channel_a})
    sub_b = subscribe("messages:getMessages", {"channelId": channel_b})
    assert sub_a.next_value(FIRST_RESULT_TIMEOUT) == []
    assert sub_b.next_value(FIRST_RESULT_TIMEOUT) == []

    content_a = _unique("for-a")
    user.send(channel_a, content_a)
    sub_a.wait_for(_has(content_a), timeout=15, description="channel A's update")
    # Positive condition seen; now channel B's subscriber must stay at [] (repeats allowed).
    sub_b.assert_no_new_distinct_value(QUIET_WINDOW, baseline=[], description="channel B changed after a write to channel A")

    # Channel B's subscription is live: its own write arrives, and A does not change.
    content_b = _unique("for-b")
    user.send(channel_b, content_b)
    result_b = sub_b.wait_for(_has(content_b), timeout=15, description="channel B's update")
    assert _contents(result_b) == [content_b]
    sub_a.assert_no_new_distinct_value(QUIET_WINDOW, description="channel A changed after a write to channel B")
    assert _contents(sub_a.latest) == [content_a]


def test_many_subscribers_see_the_same_write(user, subscribe):
    channel = user.create_channel()
    subs = [subscribe("messages:getMessages", {"channelId": channel}) for _ in range(3)]
    for sub in subs:
        assert sub.next_value(FIRST_RESULT_TIMEOUT) == []
    content = _unique()
    user.send(channel, content)
    for sub in subs:
        sub.wait_for(_has(content), timeout=15, description=f"{content!r} on every subscriber")


def test_get_current_user_is_null_without_auth(subscribe):
    sub = subscribe("users:getCurrentUser", {})
    assert sub.next_value(FIRST_RESULT_TIMEOUT) is None


def test_get_current_user_follows_upsert(make_token, client_factory, subscribe):
    sub_claim = f"user_{uuid.uuid4().hex[:12]}"
    token = make_token(sub_claim)
    live = subscribe("users:getCurrentUser", {}, token)
    assert live.next_value(FIRST_RESULT_TIMEOUT) is None, "no users document before users:upsertUser"

    writer = client_factory(token)
    user_id = writer.mutation("users:upsertUser", {})
    doc = live.wait_for(lambda v: v is not None, timeout=15, description="the new users document")
    assert doc["_id"] == user_id
    assert doc["clerkId"] == sub_claim
    assert doc["name"] == f"Test User {sub_claim}"
    assert doc["email"] == f"{sub_claim}@example.com"

    # A new sign-in with a changed name patches the same document, live.
    renamed = make_token(sub_claim, name="Renamed User", picture="https://example.com/p.png")
    writer.set_auth(renamed)
    assert writer.mutation("users:upsertUser", {}) == user_id, "upsertUser must reuse the existing document"
    doc = live.wait_for(lambda v: v is not None and v.get("name") == "Renamed User", timeout=15,
                        description="the renamed users document")
    assert doc["_id"] == user_id
    assert doc["imageUrl"] == "https://example.com/p.png"


def test_get_current_user_is_live_across_set_auth_and_clear_auth(user, subscribe):
    """One client subscribes without auth, then calls set_auth, then clear_auth, on the same
    socket: the subscription's value follows the identity."""
    script = [
        {"when": "null", "op": "set_auth", "token": user.token},
        {"when": "nonnull", "op": "clear_auth"},
    ]
    sub = subscribe("users:getCurrentUser", {}, script=script)
    assert sub.next_value(FIRST_RESULT_TIMEOUT) is None
    doc = sub.wait_for(lambda v: v is not None, timeout=20, description="the user after set_auth")
    assert doc["_id"] == user.user_id
    assert doc["clerkId"] == user.sub
    sub.wait_for(lambda v: v is None, timeout=20, description="null again after clear_auth")


def test_channel_list_is_live(user, subscribe):
    sub = subscribe("channels:list", {})
    initial = sub.next_value(FIRST_RESULT_TIMEOUT)
    assert isinstance(initial, list)
    name = _unique("chan")
    channel_id = user.create_channel(name, description="conformance", isPrivate=False)
    result = sub.wait_for(lambda v: any(c.get("name") == name for c in v), timeout=15, description=f"channel {name!r}")
    assert result[0]["_id"] == channel_id, "channels:list is ordered by lastActivityAt, newest first"
    created = result[0]
    assert created["description"] == "conformance"
    assert created["isPrivate"] is False
    assert created["ownerId"] == user.user_id


@pytest.mark.parametrize("num_items", [2])
def test_paginated_query_pages(user, client, num_items):
    """messages:listPaginated returns Convex PaginationResult pages that chain by cursor (§9)."""
    channel = user.create_channel()
    contents = [_unique(f"p{i}") for i in range(3)]
    for content in contents:
        user.send(channel, content)

    first = client.query("messages:listPaginated", {"channelId": channel, "paginationOpts": {"numItems": num_items, "cursor": None}})
    assert set(first) >= {"page", "isDone", "continueCursor"}, f"not a PaginationResult: {first!r}"
    assert _contents(first["page"]) == [contents[2], contents[1]]
    assert first["isDone"] is False
    assert isinstance(first["continueCursor"], str)

    second = client.query(
        "messages:listPaginated",
        {"channelId": channel, "paginationOpts": {"numItems": num_items, "cursor": first["continueCursor"]}},
    )
    assert _contents(second["page"]) == [contents[0]]
    assert second["isDone"] is True
    assert isinstance(second["continueCursor"], str), "continueCursor must be a string even when isDone"
