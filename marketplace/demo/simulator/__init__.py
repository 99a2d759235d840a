"""The crowd simulator: simulated workers labeling through Quorum's public HTTP API.

- crowd.py: the pure model (simulated truth, worker profiles, answers, think times);
- client.py: the asyncio worker loops (one token per worker);
- lanes.py: the connections the workers' requests go on (aiohttp: cheap per request);
- server.py: what the server says at the end (consensus accuracy, earnings);
- report.py: the figures and the printed report;
- run.py: `simulate()`, which ties them together (used by `manage.py simulate` and the benches).
"""

SIM_USERNAME_PREFIX = "sim-worker-"  # simulated workers are sim-worker-1, sim-worker-2, ...
SIM_PASSWORD = "quorum-demo-pass"  # the demo's one password; demo and test data only
