#!/usr/bin/env python3
"""The M/M/c queue in SimPy: the peer `honeycomb bench simpy` times the simulator against.

The same model as Scenarios/bench/mm8.yaml: c servers, Poisson arrivals, exponential
service, run to a horizon. Prints one JSON line: the customers served, their mean wait in
queue, and the wall time of the run alone (interpreter start-up and import excluded, as the
simulator's figure excludes its own start-up).
"""
import argparse
import json
import random
import sys
import time

try:
    import simpy
except ImportError:
    sys.exit("mm8_simpy.py: SimPy is not installed (deploy/local/install-deps.sh installs it: pip install simpy)")


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--servers", type=int, default=8)
    p.add_argument("--rate", type=float, default=6.8, help="arrivals per second")
    p.add_argument("--mean", type=float, default=1.0, help="mean service time, seconds")
    p.add_argument("--duration", type=float, default=49000.0, help="simulated seconds")
    p.add_argument("--seed", type=int, default=8)
    a = p.parse_args()

    rng = random.Random(a.seed)
    env = simpy.Environment()
    servers = simpy.Resource(env, capacity=a.servers)
    served = 0
    waited = 0.0

    def customer(env):
        nonlocal served, waited
        arrived = env.now
        with servers.request() as req:
            yield req
            waited += env.now - arrived
            served += 1
            yield env.timeout(rng.expovariate(1.0 / a.mean))

    def source(env):
        while True:
            yield env.timeout(rng.expovariate(a.rate))
            env.process(customer(env))

    env.process(source(env))
    start = time.perf_counter()
    env.run(until=a.duration)
    wall = time.perf_counter() - start
    print(json.dumps({"served": served, "mean_wait": waited / max(served, 1), "wall_seconds": wall,
                      "simpy": simpy.__version__}))


if __name__ == "__main__":
    main()
