"""The ceiling: a one-line app, served with the same uvicorn settings as `inventory serve`.

`python -m bench.hello HOST PORT WORKERS`
"""

import sys

import uvicorn
from fastapi import FastAPI

from inventory.__main__ import SERVE_OPTIONS

app = FastAPI()


@app.get("/")
def hello() -> dict[str, bool]:
    """The least an endpoint can do."""
    return {"ok": True}


def main() -> None:
    """Serve `app` like inventory/__main__.py's `serve` serves the API."""
    host, port, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    uvicorn.run(
        "bench.hello:app",
        host=host,
        port=port,
        workers=workers,
        timeout_graceful_shutdown=30,
        **SERVE_OPTIONS,
    )


if __name__ == "__main__":
    main()
