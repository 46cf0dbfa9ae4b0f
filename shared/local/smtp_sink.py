"""A real SMTP server that keeps every received mail in a Maildir (local stand-in for ACS Email).

python -m shared.local.smtp_sink --port 2525 --maildir .local/mail
"""

from __future__ import annotations

import argparse
import mailbox
import signal
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class MaildirHandler:
    def __init__(self, maildir: Path) -> None:
        self.box = mailbox.Maildir(str(maildir), create=True)
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.original_content or envelope.content, policy=policy.SMTP)
        if "X-Envelope-To" not in msg:
            msg["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        with self._lock:
            self.box.add(msg)
        return "250 Message accepted for delivery"


def read_mails(maildir: Path) -> list[EmailMessage]:
    """Every mail received so far, oldest first (tests and `clearance` commands read these)."""
    box = mailbox.Maildir(str(maildir), create=True)
    mails = []
    for key in box.iterkeys():
        with box.get_file(key) as fh:
            mails.append(message_from_bytes(fh.read(), policy=policy.default))
    mails.sort(key=lambda m: str(m.get("Date", "")))
    return [m for m in mails if isinstance(m, EmailMessage)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--maildir", type=Path, required=True)
    args = parser.parse_args()
    controller = Controller(MaildirHandler(args.maildir), hostname=args.host, port=args.port)
    controller.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    controller.stop()


if __name__ == "__main__":
    main()
