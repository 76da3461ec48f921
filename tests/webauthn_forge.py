"""A software authenticator: valid-looking WebAuthn answers made with the `cryptography` package, so
the server's checks can be exercised without a browser (tests/test_passkeys*.py, bench/logins.py).

It holds one EC P-256 key (a COSE key, alg ES256), a random credential id, and the user handle it
was registered with. `register(options)` answers navigator.credentials.create() with a "none"
attestation; `assertion(options)` answers navigator.credentials.get(): authenticatorData (rpIdHash,
flags, signCount), clientDataJSON (type, challenge, origin) and an ECDSA signature over both. Every
part can be bent (origin, RP ID, flags, count, user handle, challenge) to forge a refusal.
"""
import base64
import hashlib
import json
import secrets

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40  # authenticatorData flags


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def from_b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def options_of(options):
    return json.loads(options) if isinstance(options, (str, bytes)) else options


class SoftAuthenticator:
    def __init__(self, origin="http://localhost", aaguid=bytes(16), counts=True, synced=False,
                 transports=("internal",)):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = secrets.token_bytes(32)
        self.origin = origin
        self.aaguid = aaguid
        self.counts = counts  # a security key counts its signatures; a synced passkey sends 0
        self.synced = synced
        self.transports = list(transports)
        self.sign_count = 0
        self.user_handle = None
        self.rp_id = None

    def cose_key(self):
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})

    def authenticator_data(self, rp_id, flags, count, attested=False):
        data = hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + count.to_bytes(4, "big")
        if attested:
            data += self.aaguid + len(self.credential_id).to_bytes(2, "big") + self.credential_id + self.cose_key()
        return data

    def flags(self, up=True, uv=True):
        return ((UP if up else 0) | (UV if uv else 0) | (BE | BS if self.synced else 0))

    @staticmethod
    def client_data(kind, challenge, origin):
        return json.dumps({"type": kind, "challenge": b64url(challenge), "origin": origin,
                           "crossOrigin": False}).encode()

    def register(self, options, origin=None, rp_id=None, uv=True):
        """The JSON a browser posts after navigator.credentials.create(options)."""
        options = options_of(options)
        self.rp_id = rp_id or options["rp"]["id"]
        self.user_handle = from_b64url(options["user"]["id"])
        client_data = self.client_data("webauthn.create", from_b64url(options["challenge"]), origin or self.origin)
        auth_data = self.authenticator_data(self.rp_id, self.flags(uv=uv) | AT, self.sign_count, attested=True)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return json.dumps({
            "id": b64url(self.credential_id), "rawId": b64url(self.credential_id), "type": "public-key",
            "authenticatorAttachment": "platform", "clientExtensionResults": {},
            "response": {"clientDataJSON": b64url(client_data), "attestationObject": b64url(attestation),
                         "transports": self.transports},
        })

    def assertion(self, options, origin=None, rp_id=None, up=True, uv=True, count=None, user_handle=...,
                  challenge=None, kind="webauthn.get"):
        """The JSON a browser posts after navigator.credentials.get(options); `count` sets the
        signature count (else it grows by one when the authenticator counts)."""
        options = options_of(options)
        if count is None:
            count = self.sign_count + 1 if self.counts else 0
        self.sign_count = max(self.sign_count, count)
        challenge = challenge if challenge is not None else from_b64url(options["challenge"])
        client_data = self.client_data(kind, challenge, origin or self.origin)
        auth_data = self.authenticator_data(rp_id or options.get("rpId") or self.rp_id, self.flags(up, uv), count)
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        handle = self.user_handle if user_handle is ... else user_handle
        return json.dumps({
            "id": b64url(self.credential_id), "rawId": b64url(self.credential_id), "type": "public-key",
            "authenticatorAttachment": "platform", "clientExtensionResults": {},
            "response": {"clientDataJSON": b64url(client_data), "authenticatorData": b64url(auth_data),
                         "signature": b64url(signature), "userHandle": b64url(handle) if handle else None},
        })
