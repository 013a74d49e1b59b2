"""Request-level serving: arrivals, scheduling, replicas, capacity planning."""
