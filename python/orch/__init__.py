"""orch from Python: report from a job (`report`, `checkpoint`, `artifact`, `done`, `config`) and
read the store for analysis (`results`, `metrics`, `jobs`). Standard library only; the analysis
calls return pandas DataFrames when pandas is importable."""

from .events import artifact, checkpoint, config, done, enabled, heartbeat, report
from .store import connect, home, jobs, metrics, results

__version__ = "0.1.0"
__all__ = [
    "artifact", "checkpoint", "config", "done", "enabled", "heartbeat", "report",
    "connect", "home", "jobs", "metrics", "results",
]
