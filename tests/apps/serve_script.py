"""A server started from a script, as many apps are: `python3 serve_script.py uvicorn|waitress PORT`.

No command line names the server: uvicorn.run(app) or waitress.serve(app) is called here.
"""
import sys

kind, port = sys.argv[1], int(sys.argv[2])
if kind == "uvicorn":
    import uvicorn
    from fastapi_app import app
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
else:
    import waitress
    from flask_app import app
    waitress.serve(app, host="127.0.0.1", port=port, threads=4)
