"""The credential canary's watch (root conftest) notices a secret in each place it watches."""

import logging
import uuid

import httpx
import pytest
import structlog


async def test_the_watch_sees_log_lines_log_records_and_response_bodies(request: pytest.FixtureRequest) -> None:
    # The root conftest, by its registration name (a plain `import conftest` may find another).
    root = request.config.pluginmanager.get_plugin(str(request.config.rootpath / "conftest.py"))
    assert root is not None
    secret = f"watched-{uuid.uuid4().hex}"
    watch = root.SecretWatch(secret)
    with pytest.MonkeyPatch.context() as patch:
        watch.install(patch)
        try:
            structlog.PrintLogger(open("/dev/null", "w")).info(f'{{"event": "oops", "key": "{secret}"}}')  # noqa: SIM115, ASYNC230
            logging.getLogger("voice.test").warning("leaked %s", secret)
            transport = httpx.MockTransport(lambda request: httpx.Response(200, text=f"here: {secret}"))
            async with httpx.AsyncClient(transport=transport) as client:
                await client.get("http://example.test/leak")
            with httpx.Client(transport=transport) as client:
                client.get("http://example.test/leak-sync")
        finally:
            logging.getLogger().removeHandler(watch.handler)

    assert watch.leaks[0].startswith("log line: ") and watch.leaks[1].startswith("log record of voice.test: ")
    # (A mock transport reads its response before the client attaches the request: "a response".)
    for url in ("http://example.test/leak", "http://example.test/leak-sync"):
        assert any(leak.startswith(f"response to GET {url}: ") for leak in watch.leaks), url
    assert all(secret not in leak and "<CANARY>" in leak for leak in watch.leaks)
    assert watch.responses >= 2
