"""The external-Python side of the bridge: one request on stdin, JSON lines on stdout.

Run as `python -m <add-on package>.worker` from the folder holding the add-on, with a Python that has
the backend's dependencies (torch for the learned models). Lines are objects with an "event" of
"progress" (fraction, message), "result" (path of the Animation JSON) or "error" (message).
"""
from __future__ import annotations

import json
import sys
import traceback

from .backend.animation import save_json
from .backend.errors import MouthpieceError
from .generation import GenerateRequest, run_in_process


PROTOCOL_STREAM = sys.stdout
sys.stdout = sys.stderr  # anything the libraries print stays off the protocol stream


def emit(event: str, **fields) -> None:
    PROTOCOL_STREAM.write(json.dumps({"event": event, **fields}) + "\n")
    PROTOCOL_STREAM.flush()


def main() -> int:
    try:
        message = json.loads(sys.stdin.readline())
        request = GenerateRequest(**message["request"])
        anim = run_in_process(request, lambda fraction, text: emit("progress", fraction=fraction, message=text))
        save_json(anim, message["out"])
    except MouthpieceError as err:
        emit("error", message=str(err))
        return 2
    except Exception as err:  # anything else is a bug: send the trace so Blender can show it
        emit("error", message=f"{type(err).__name__}: {err}", trace=traceback.format_exc())
        return 1
    emit("result", path=message["out"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
