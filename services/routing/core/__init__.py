"""Routing's decisions as pure functions of their inputs and ``now``: who is eligible, how urgent a
case is, which agent gets which case, and how many agents a queue needs."""
