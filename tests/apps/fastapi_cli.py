"""A stand-in for fastapi-cli's `fastapi run|dev PATH` (Debian's fastapi 0.92 has no CLI).

Installed by the tests as a script named `fastapi`, so the process's command
line is the one fastapi-cli gives: `python3 .../fastapi run fastapi_app.py`.
It imports the app from the file and runs uvicorn, as fastapi-cli does.
"""
import importlib.util
import os
import sys

import uvicorn


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    port = int(sys.argv[sys.argv.index("--port") + 1])
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    uvicorn.run(mod.app, host="127.0.0.1", port=port, log_level="warning", reload=False)


if __name__ == "__main__":
    main()
