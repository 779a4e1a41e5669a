"""moto's server for infra/test.sh, with one difference: requests are
handled one at a time.

moto's TransactWriteItems keeps a deep copy of each table it touches and,
when a condition fails, puts the whole copy back, undoing whatever other
requests wrote to those tables in the meantime. DynamoDB never does that
(its items are atomic), but under moto's threaded server a racing test (a
revoke-all while logins fail their generation check) could lose the
revoke-all's write and fail. Handling one request at a time is a valid
order for every concurrent test and removes the emulator's race; the
tests use no long polling, so nothing holds the lock for long.

Usage: python infra/moto_server.py HOST PORT
"""

import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def one_at_a_time(environ, start_response):
        with lock:
            # The whole body is produced inside the lock.
            return list(app(environ, start_response))

    run_simple(
        host,
        port,
        one_at_a_time,
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
