"""What the integration tests and the benchmark share: real servers, the
wsgitrace daemon, HTTP clients and the Prometheus exposition parser.

Everything waits for a condition (a port answers, a count settles) with a
deadline, never for a fixed time. Every process is started in its own
process group and killed with it.
"""
