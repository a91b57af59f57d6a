"""``smartcat demo``: create a database with the demo program and serve it."""

from __future__ import annotations

import argparse
from pathlib import Path

from smartcat.commands.serve import add_server_arguments, check_port, serve

DEFAULT_DB = "smartcat-demo.sqlite"


def register(sub, groups) -> None:
    parser = sub.add_parser("demo", help="create a demo database (Bahasa Indonesia) and serve it")
    add_server_arguments(parser)
    parser.add_argument("--no-serve", action="store_true",
                        help="only create the database and print the accounts")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from server.demo import build_demo

    check_port(args.port)
    url = args.db
    if url is None:
        # The default demo file is ours: start it afresh each time.
        Path(DEFAULT_DB).unlink(missing_ok=True)
        url = f"sqlite:///{DEFAULT_DB}"
    accounts = build_demo(url)
    base = f"http://{args.host}:{args.port}"
    print(f"SMART CAT demo database: {url}")
    print(f"Open {base}/ in a browser.")
    print("Participants (NIP / password), log in at /login:")
    for nip, name, password in accounts.participants:
        print(f"  {nip} / {password}   {name}")
    print(f"Question writer (staff login at /writer/login): {accounts.writer[0]} / "
          f"{accounts.writer[1]}")
    print(f"Administrator (staff login at /writer/login): {accounts.admin[0]} / "
          f"{accounts.admin[1]}")
    print(f"Service token (shown once; scopes certificates:read, admin:read, admin:write): "
          f"{accounts.token}")
    print(f"  curl -H 'Authorization: Bearer {accounts.token}' {base}/api/v1/certificates")
    print(f"  curl -H 'Authorization: Bearer {accounts.token}' {base}/api/v1/admin/programs")
    if args.no_serve:
        return 0
    return serve(url, args.host, args.port)
