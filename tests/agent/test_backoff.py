"""The agent's one retry policy: exponential backoff with jitter, capped, cut short."""

from collectors.agent.backoff import backoff_s, jittered, with_retries
from collectors.agent.client import Answer


def test_waits_double_within_their_upper_half_up_to_the_cap():
    for attempt in range(1, 7):
        ceiling = 0.5 * 2**attempt
        for _ in range(50):
            assert ceiling / 2 <= backoff_s(attempt, 0.5) <= ceiling
    assert all(150 <= backoff_s(n, 5.0, cap_s=300) <= 300 for n in (6, 7, 50, 10**6))


def test_a_period_is_jittered_by_a_fifth_either_way():
    assert all(4.0 <= jittered(5.0) <= 6.0 for _ in range(100))


def answers(*statuses: int):
    pending = list(statuses)
    sent: list[int] = []

    def send() -> Answer:
        sent.append(pending.pop(0))
        return Answer(sent[-1], "")

    return send, sent


def test_a_temporary_failure_is_retried_with_growing_waits():
    send, sent = answers(503, 0, 200, 200)
    waits: list[float] = []
    assert with_retries(send, 5, 1.0, waits.append).ok
    assert sent == [503, 0, 200]
    assert len(waits) == 2 and 1 <= waits[0] <= 2 <= waits[1] <= 4


def test_the_last_answer_comes_back_when_the_tries_run_out():
    send, sent = answers(500, 500, 500, 200)
    waits: list[float] = []
    assert with_retries(send, 3, 1.0, waits.append).status == 500
    assert sent == [500, 500, 500] and len(waits) == 2


def test_a_refusal_is_not_retried():
    send, sent = answers(400, 200)
    waits: list[float] = []
    assert with_retries(send, 5, 1.0, waits.append).status == 400
    assert sent == [400] and waits == []


def test_stopping_ends_the_retries():
    send, sent = answers(503, 503, 200)
    waits: list[float] = []
    assert with_retries(send, 5, 1.0, waits.append, stopping=lambda: True).status == 503
    assert sent == [503] and waits == []
