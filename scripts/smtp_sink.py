"""A real SMTP server on loopback for planet's digest tests (aiosmtpd). It writes every
accepted message to DIR as JSON (envelope, decoded headers and parts) and its raw bytes as
.eml, and obeys DIR/control.json, read at each message:
  {"accept": N}          accept N messages in all, then answer 451 (a temporary failure)
  {"reject": ["a@b.cn"]} answer 550 to these recipients (a permanent failure)
Prints "listening PORT" once ready; runs until its standard input closes.
"""
import email
import email.policy
import json
import pathlib
import socket
import sys

from aiosmtpd.controller import Controller

DIRECTORY = pathlib.Path(sys.argv[1])
DIRECTORY.mkdir(parents=True, exist_ok=True)


def control():
    path = DIRECTORY / "control.json"
    return json.loads(path.read_text()) if path.exists() else {}


class Sink:
    def __init__(self):
        self.accepted = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in [a.lower() for a in control().get("reject", [])]:
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        limit = control().get("accept")
        if limit is not None and self.accepted >= limit:
            return "451 4.3.0 try again later"
        self.accepted += 1
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        parts = []
        for part in message.walk():
            if part.is_multipart():
                continue
            parts.append({"content_type": part.get_content_type(), "charset": part.get_content_charset(), "body": part.get_content()})
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "content_type": message.get_content_type(),
            "headers": {name: str(value) for name, value in message.items()},
            "parts": parts,
        }
        stem = DIRECTORY / f"{self.accepted:04d}"
        stem.with_suffix(".eml").write_bytes(envelope.content)
        stem.with_suffix(".json").write_text(json.dumps(record, ensure_ascii=False))
        return "250 OK"


with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
controller = Controller(Sink(), hostname="127.0.0.1", port=port)
controller.start()
print(f"listening {port}", flush=True)
sys.stdin.read()
controller.stop()
