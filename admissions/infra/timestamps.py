"""RFC 3161 time-stamps: asking a time-stamping authority (TSA) to sign "these bytes existed at
this time", and checking what it signed.

``request(data)`` sends a ``TimeStampReq`` (SHA-256 of ``data``, a random nonce, ``certReq``
true) by HTTP POST (``application/timestamp-query``) to ``VIGIE_TSA_URL`` and accepts the answer
only when its status is *granted*, its token's CMS signature verifies with a certificate that
chains to ``VIGIE_TSA_CA_FILE`` at the time it states and carries the critical
id-kp-timeStamping purpose, its nonce is the request's and its imprint is the digest of
``data``. ``verify(token, data)`` checks a stored token the same way, the nonce aside (it only
ties an answer to its request). Either raises ``TimestampError``, whose message (English, no
personal data, never the URL: it may hold credentials) says why.

The ASN.1 and CMS work is Trail of Bits' ``rfc3161-client``; why that library:
docs/SECURITY.md §Time-stamps of the signed heads. Revocation of the TSA's certificate is not
checked.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import requests
from cryptography import x509
from django.conf import settings
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    TimeStampResponse,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)


QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
SHA256 = x509.ObjectIdentifier("2.16.840.1.101.3.4.2.1")
MAX_REPLY = 100_000

# What rfc3161-client's checks say, in the words audit_verify prints.
_REASONS = {
    "Nonce mismatch": "its nonce is not the request's",
    "Mismatch between messages": "its imprint is not this document's SHA-256",
}


class TimestampError(Exception):
    """No time-stamp could be had, or a token does not verify."""


@dataclass(frozen=True)
class Timestamp:
    token: bytes  # the TimeStampToken: a DER CMS ContentInfo (RFC 3161, section 2.4.2)
    gen_time: datetime  # the TSA's time, aware (UTC)
    serial: int  # the TSA's serial number of the token
    tsa: str  # the subject of the certificate that signed it (RFC 4514)


def enabled() -> bool:
    return bool(settings.VIGIE_TSA_URL)


def trusted_certificates() -> list[x509.Certificate]:
    """The certificates of ``VIGIE_TSA_CA_FILE``, which tokens must chain to."""
    path = settings.VIGIE_TSA_CA_FILE
    if not path:
        raise TimestampError("VIGIE_TSA_CA_FILE is not set")
    try:
        return x509.load_pem_x509_certificates(Path(path).read_bytes())
    except OSError as exc:
        raise TimestampError(f"VIGIE_TSA_CA_FILE cannot be read ({type(exc).__name__})") from None
    except ValueError:
        raise TimestampError("VIGIE_TSA_CA_FILE holds no PEM certificate") from None


def _verifier(builder: VerifierBuilder) -> VerifierBuilder:
    for certificate in trusted_certificates():
        builder = builder.add_root_certificate(certificate)
    return builder


def _signer(answer: TimeStampResponse) -> str:
    signer = next(iter(answer.signed_data.signer_infos))
    for der in answer.signed_data.certificates:
        certificate = x509.load_der_x509_certificate(der)
        if (certificate.issuer, certificate.serial_number) == (signer.issuer, signer.serial_number):
            return certificate.subject.rfc4514_string()
    return signer.issuer.rfc4514_string()


def _check(answer: TimeStampResponse, data: bytes, builder: VerifierBuilder) -> Timestamp:
    if answer.status != PKIStatus.GRANTED:
        text = "; ".join(answer.status_string)[:200]
        raise TimestampError(f"the TSA refused it (PKIStatus {answer.status}: {text or '-'})")
    try:
        info = answer.tst_info
        if info.message_imprint.hash_algorithm != SHA256:
            raise TimestampError("its imprint is not a SHA-256 digest")
        _verifier(builder).build().verify(answer, hashlib.sha256(data).digest())
        token = answer.time_stamp_token()
        return Timestamp(token, info.gen_time, info.serial_number, _signer(answer))
    except VerificationError as exc:
        message = str(exc).split(": ErrorStack", 1)[0]
        raise TimestampError(_REASONS.get(message, f"it does not verify: {message}")) from None
    except ValueError as exc:  # a part rfc3161-client cannot read
        raise TimestampError(f"it cannot be read ({exc})") from None


def request(data: bytes) -> Timestamp:
    """A checked time-stamp of SHA-256(``data``) from ``VIGIE_TSA_URL``."""
    query = (
        TimestampRequestBuilder()
        .data(data)
        .hash_algorithm(HashAlgorithm.SHA256)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )
    try:
        with requests.post(
            settings.VIGIE_TSA_URL,
            data=query.as_bytes(),
            headers={"Content-Type": QUERY_TYPE, "Accept": REPLY_TYPE},
            timeout=settings.VIGIE_TSA_TIMEOUT,
            allow_redirects=False,  # a redirected POST becomes a GET
            stream=True,
        ) as response:
            if response.status_code != 200:
                raise TimestampError(f"the TSA answered HTTP {response.status_code}")
            body = b""
            for chunk in response.iter_content(16_384):
                body += chunk
                if len(body) > MAX_REPLY:
                    raise TimestampError("the TSA's answer is too large")
    except requests.RequestException as exc:
        raise TimestampError(f"the TSA could not be reached ({type(exc).__name__})") from None
    try:
        answer = decode_timestamp_response(body)
    except ValueError:
        raise TimestampError("the TSA's answer is not a TimeStampResp") from None
    return _check(answer, data, VerifierBuilder.from_request(query))


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def as_response(token: bytes) -> bytes:
    """``token`` inside a granted ``TimeStampResp`` (status 0, then the token): the form
    rfc3161-client reads (``openssl ts -reply -token_in`` does the same)."""
    content = b"\x30\x03\x02\x01\x00" + token
    return b"\x30" + _der_length(len(content)) + content


def verify(token: bytes, data: bytes) -> Timestamp:
    """Check a stored token against ``data``: the TSA's signature, its certificate's purpose
    and chain to ``VIGIE_TSA_CA_FILE``, and the imprint."""
    try:
        answer = decode_timestamp_response(as_response(token))
    except ValueError:
        raise TimestampError("it is not a TimeStampToken") from None
    return _check(answer, data, VerifierBuilder())
