"""Serves localstripe's fake Stripe API on loopback, with its state in memory.

localstripe's own command binds every interface and writes its state to a file in /tmp
after each change; here its application is served on 127.0.0.1 only and forgets
everything when it stops. It also answers Stripe's `Idempotency-Key` header, which
localstripe ignores: a POST repeated with the same key (and the same API key) gets the
first answer again, and one with other parameters is refused, as Stripe does.

    python localstripe-server.py PORT
"""

import sys

from aiohttp import web
from localstripe import resources
from localstripe.server import app

resources.Store.dump_to_disk = lambda self: None

# (API key, idempotency key) -> (path and body of the first request, its answer)
first_answers = {}


@web.middleware
async def idempotency(request, handler):
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not key:
        return await handler(request)
    scope = (request.headers.get("Authorization", ""), key)
    sent = (request.path, await request.read())
    if scope in first_answers:
        first_sent, (status, body, content_type) = first_answers[scope]
        if first_sent != sent:
            return web.json_response(
                {"error": {"type": "idempotency_error",
                           "message": "Keys for idempotent requests can only be used "
                                      "with the same parameters they were first used with."}},
                status=400)
        return web.Response(status=status, body=body, content_type=content_type)
    response = await handler(request)
    if isinstance(response, web.Response):
        first_answers[scope] = (sent, (response.status, response.body, response.content_type))
    return response


app.middlewares.insert(0, idempotency)

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
