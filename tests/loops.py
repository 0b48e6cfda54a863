"""Running a coroutine in a test whatever the process has left behind."""

from __future__ import annotations


def in_own_loop(coroutine):
    """asyncio.run in a thread of its own: earlier tests in the same process (the browser tests'
    Playwright) may leave an event loop running in the main thread, where pytest-asyncio's loop
    and asyncio.run would then refuse to start."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


class LoopThread:
    """An event loop running in a thread of its own, for tests that keep asynchronous objects (a
    websocket) between calls: each call runs a coroutine there and waits for its result."""

    def __init__(self):
        import asyncio
        import threading

        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="test-loop", daemon=True).start()

    def run(self, make_awaitable, timeout: float | None = None):
        """Await `make_awaitable()` (a function returning an awaitable) in the loop's thread."""
        import asyncio

        async def call():
            return await asyncio.wait_for(make_awaitable(), timeout)

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result()
