"""A stand-in for fastapi-cli's `fastapi run|dev PATH` (Debian's fastapi 0.92 has no CLI).

Installed by the tests as a script named `fastapi`, so the process's command
line is the one fastapi-cli gives: `python3 .../fastapi run fastapi_app.py`.
As fastapi-cli does, it puts the file's folder on sys.path and runs uvicorn:
`run` with the app imported from the file; `dev` with the app as an import
string and reload on, so that the server is uvicorn's reloader's spawned
child, which watches the current folder.
"""
import importlib.util
import os
import sys

import uvicorn


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    port = int(sys.argv[sys.argv.index("--port") + 1])
    folder = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, folder)
    name = os.path.basename(path)[:-3]
    if cmd == "dev":
        uvicorn.run("%s:app" % name, host="127.0.0.1", port=port, log_level="warning", reload=True)
        return
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    uvicorn.run(mod.app, host="127.0.0.1", port=port, log_level="warning", reload=False)


if __name__ == "__main__":
    main()
