"""Queueing models for one contact-centre queue: Erlang C (callers wait forever) and Erlang A (callers hang up).

Erlang C (M/M/N) is the textbook planning model; it overstates the service level where many callers abandon,
because every caller who hangs up would, in Erlang C, still be waiting and blocking the ones behind. Erlang A
(M/M/N+M, Garnett, Mandelbaum & Reiman 2002) adds exponential patience with mean `patience_seconds`.

Erlang A is computed from its birth-death chain (state = contacts in the system: arrival rate λ up, service
`min(k, N)·μ` plus abandonment `max(k − N, 0)·θ` down), truncated where the tail probability is negligible.
The service level is the chance that an arriving contact is answered within T: a contact that finds j others
queued ahead moves up at rate N·μ + j·θ (a service ends or someone ahead hangs up) while its own patience runs
out at rate θ; that small absorbing chain is solved with a matrix exponential.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
# SciPy: imported in the functions that use it, not here. The Dagster definitions import this module, and
# every `cx run` paid for the import at start-up, before its first step (issue 19, tests/test_definitions_imports.py).

# Truncate the Erlang A chain where the stationary probability falls below this.
TAIL_PROBABILITY = 1e-12


@dataclass(frozen=True)
class QueueOutcome:
    """What one interval looks like for the contacts offered: service level (answered within T among all
    offered), average speed of answer over all offered (seconds), abandonment share, agent occupancy."""

    service_level: float
    average_speed_of_answer: float
    abandonment: float
    occupancy: float


def erlang_b(traffic_erlangs: float, agents: int) -> float:
    """Blocking probability of Erlang B by the stable recursion B(k) = A·B(k−1) / (k + A·B(k−1))."""
    blocking = 1.0
    for k in range(1, agents + 1):
        blocking = traffic_erlangs * blocking / (k + traffic_erlangs * blocking)
    return blocking


def erlang_c_wait_probability(traffic_erlangs: float, agents: int) -> float:
    """Probability that a contact has to wait (Erlang C); 1.0 when the agents cannot keep up (agents <= traffic).
    C = N·B / (N − A·(1 − B)) from Erlang B, which avoids the huge factorials of the textbook formula."""
    if agents <= traffic_erlangs:
        return 1.0
    blocking = erlang_b(traffic_erlangs, agents)
    return agents * blocking / (agents - traffic_erlangs * (1 - blocking))


def erlang_c(traffic_erlangs: float, agents: int, answer_within_seconds: float, handle_seconds: float) -> QueueOutcome:
    """Erlang C: SL = 1 − C·exp(−(N − A)·T / AHT), ASA = C·AHT / (N − A); nobody abandons."""
    if agents <= traffic_erlangs:
        return QueueOutcome(0.0, math.inf, 0.0, 1.0)
    wait_probability = erlang_c_wait_probability(traffic_erlangs, agents)
    spare = agents - traffic_erlangs
    return QueueOutcome(
        service_level=1 - wait_probability * math.exp(-spare * answer_within_seconds / handle_seconds),
        average_speed_of_answer=wait_probability * handle_seconds / spare,
        abandonment=0.0,
        occupancy=traffic_erlangs / agents,
    )


def erlang_a_states(arrival_rate: float, service_rate: float, abandon_rate: float, agents: int) -> np.ndarray:
    """Stationary distribution of the Erlang A chain over 0, 1, 2, ... contacts in the system (truncated)."""
    log_weights = [0.0]
    k = 0
    while True:
        k += 1
        departure = min(k, agents) * service_rate + max(k - agents, 0) * abandon_rate
        log_weights.append(log_weights[-1] + math.log(arrival_rate / departure))
        # Past the agents and the mode, weights only fall: stop when they are negligible.
        if k > agents and departure > arrival_rate and log_weights[-1] - max(log_weights) < math.log(TAIL_PROBABILITY):
            break
    weights = np.exp(np.array(log_weights) - max(log_weights))
    return weights / weights.sum()


def answered_within(queued_ahead: np.ndarray, agents: int, service_rate: float, abandon_rate: float,
                    seconds: float) -> float:
    """P(answered within `seconds`) for a contact that finds j = 0, 1, ... others queued ahead with probability
    `queued_ahead[j]`: the absorbing chain over positions, 'answered' and 'hung up', after `seconds`."""
    from scipy.linalg import expm
    positions = len(queued_ahead)
    answered, hung_up = positions, positions + 1
    generator = np.zeros((positions + 2, positions + 2))
    for j in range(positions):
        move_up = agents * service_rate + j * abandon_rate
        generator[j, answered if j == 0 else j - 1] += move_up
        generator[j, hung_up] += abandon_rate
        generator[j, j] -= move_up + abandon_rate
    start = np.zeros(positions + 2)
    start[:positions] = queued_ahead
    return float((start @ expm(generator * seconds))[answered])


def erlang_a(traffic_erlangs: float, agents: int, answer_within_seconds: float, handle_seconds: float,
             patience_seconds: float) -> QueueOutcome:
    """Erlang A for `traffic_erlangs` offered to `agents`, mean handle time and mean patience in seconds.
    Stable at any load: callers who hang up keep the queue finite."""
    if agents == 0:
        return QueueOutcome(0.0, math.inf, 1.0, 1.0)
    service_rate = 1 / handle_seconds
    arrival_rate = traffic_erlangs * service_rate
    abandon_rate = 1 / patience_seconds
    states = erlang_a_states(arrival_rate, service_rate, abandon_rate, agents)
    queued = np.maximum(np.arange(len(states)) - agents, 0)
    mean_queue = float(states @ queued)
    answered_at_once = float(states[:agents].sum())
    served_within = answered_at_once + answered_within(states[agents:], agents, service_rate, abandon_rate,
                                                       answer_within_seconds)
    busy = float(states @ np.minimum(np.arange(len(states)), agents))
    abandonment = abandon_rate * mean_queue / arrival_rate
    return QueueOutcome(
        service_level=served_within,
        # Little's law: mean wait of all offered contacts = mean queue / arrival rate.
        average_speed_of_answer=mean_queue / arrival_rate,
        abandonment=abandonment,
        occupancy=busy / agents,
    )
