"""A FastAPI app with the routes of flask_app.py, for the ASGI servers (uvicorn, hypercorn, daphne).

/test/ -> 200 "rest", /test1/ -> 500 "division by zero", unknown -> 404,
/echo reads its body, /sleep/{ms} sleeps (its start and end in headers),
/block/{ms} likewise but blocks the event loop, /big is 1 MB, /stream is streamed,
/sse sends server-sent events until the client goes or `n` were sent,
/nocontent -> 204, and /ws echoes WebSocket messages.
"""
import asyncio
import time

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

app = FastAPI()
BIG = b"x" * (1 << 20)


@app.exception_handler(ZeroDivisionError)
async def zero(request, exc):
    return PlainTextResponse(str(exc), status_code=500)


@app.get("/test/")
async def test():
    return PlainTextResponse("rest")


@app.get("/test1/")
async def test1():
    1 / 0


@app.post("/echo")
async def echo(request: Request):
    data = await request.body()
    return PlainTextResponse("got %d" % len(data))


@app.get("/sleep/{ms}")
async def sleep(ms: int):
    # The app's own time, on the clock wsgitrace uses (CLOCK_MONOTONIC).
    start = time.monotonic_ns()
    await asyncio.sleep(ms / 1000.0)
    return PlainTextResponse("slept %d" % ms, headers={
        "X-App-Start-Ns": str(start), "X-App-End-Ns": str(time.monotonic_ns())})


@app.get("/block/{ms}")
async def block(ms: int):
    # A sync call inside an async endpoint: the event loop stands still meanwhile.
    start = time.monotonic_ns()
    time.sleep(ms / 1000.0)
    return PlainTextResponse("blocked %d" % ms, headers={
        "X-App-Start-Ns": str(start), "X-App-End-Ns": str(time.monotonic_ns())})


@app.get("/big")
async def big():
    return Response(BIG, media_type="application/octet-stream")


@app.get("/stream")
async def stream():
    async def gen():
        for i in range(5):
            yield "chunk-%d\n" % i
    return StreamingResponse(gen(), media_type="text/plain")


@app.get("/sse")
async def sse(n: int = 1000000):
    async def gen():
        for i in range(n):
            yield "data: %d\n\n" % i
            await asyncio.sleep(0.01)
    return StreamingResponse(gen(), media_type="text/event-stream")


@app.get("/nocontent")
async def nocontent():
    return Response(status_code=204)


@app.get("/json")
async def json():
    return JSONResponse({"ok": True})


@app.websocket("/ws")
async def ws(websocket: WebSocket):
    await websocket.accept()
    try:
        while True:
            msg = await websocket.receive_text()
            await websocket.send_text(msg)
    except Exception:
        pass
