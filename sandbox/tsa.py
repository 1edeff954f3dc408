"""A stand-in RFC 3161 time-stamping authority: ``POST /tsa`` with a ``TimeStampReq``
(``application/timestamp-query``) answers a ``TimeStampResp`` (``application/timestamp-reply``)
whose token is a CMS ``SignedData`` over a ``TSTInfo``, signed by a test certificate carrying
the critical extended key usage id-kp-timeStamping, as a real TSA's is (RFC 3161, section
2.3).

It is written from the RFCs with nothing but ``cryptography`` and a few lines of DER below, not
with the library Vigie's client uses (``rfc3161-client``), so that the two check each other;
``openssl ts -verify`` accepts its tokens too (tests/admissions/test_audit_timestamps.py).

The keys are derived from fixed strings and the certificates have fixed dates and serials, so
every sandbox, on every machine and after every restart, has the same certificates: a token
stored yesterday still verifies against ``GET /tsa/ca.pem`` today. They are test keys known to
anyone who reads this file: never trust this root outside development and tests.

==================  ==========================================================================
``POST /tsa``       a time-stamp (SHA-256, SHA-384 or SHA-512 imprints; the nonce echoed; the
                    certificate included when ``certReq`` is true)
``GET /tsa/ca.pem`` the root certificate (``VIGIE_TSA_CA_FILE``)
``GET /tsa/tsa.pem`` the signing certificate
==================  ==========================================================================

Knobs: ``tsa_status`` (``granted``, or ``rejection``: a well-formed refusal, PKIStatus 2 with
``systemFailure``), ``tsa_tamper`` (``none``; ``nonce``, ``imprint``: a signed answer for
another nonce or digest; ``signature``: one bit of the signature flipped), and the fault knobs
(``apis: {"tsa": {"outage": true, ...}}``): outage, error rates, latency, resets, timeouts.
"""

import datetime
import functools
import hashlib
import itertools
import threading
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sandbox.httpkit import Request, Response
from sandbox.state import Context


QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
MAX_QUERY = 10_000

# Object identifiers (RFC 3161, RFC 5652, RFC 5035, RFC 5758, RFC 5754).
ID_SIGNED_DATA = "1.2.840.113549.1.7.2"
ID_CT_TSTINFO = "1.2.840.113549.1.9.16.1.4"
ID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
ID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
ID_SIGNING_CERTIFICATE_V2 = "1.2.840.113549.1.9.16.2.47"
ID_SHA256 = "2.16.840.1.101.3.4.2.1"
ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2"
DIGESTS = {
    "2.16.840.1.101.3.4.2.1": 32,  # SHA-256
    "2.16.840.1.101.3.4.2.2": 48,  # SHA-384
    "2.16.840.1.101.3.4.2.3": 64,  # SHA-512
}
# The sandbox's TSA policy: an arbitrary arc, as the examples of OpenSSL's own TSA use.
POLICY = "1.2.3.4.1"

# PKIStatus and PKIFailureInfo bits (RFC 3161, section 2.4.2).
GRANTED, REJECTION = 0, 2
BAD_ALG, BAD_REQUEST, BAD_DATA_FORMAT, SYSTEM_FAILURE = 0, 2, 5, 25


# --- DER, the little of it a TSA needs ---------------------------------------------------------


def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


def _seq(*items: bytes) -> bytes:
    return _tlv(0x30, b"".join(items))


def _set(*items: bytes) -> bytes:
    return _tlv(0x31, b"".join(sorted(items)))  # DER sorts a SET OF by encoding


def _int(value: int) -> bytes:
    return _tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def _oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    out = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return _tlv(0x06, bytes(out))


def _octets(data: bytes) -> bytes:
    return _tlv(0x04, data)


def _explicit(number: int, content: bytes) -> bytes:
    return _tlv(0xA0 | number, content)


def _bits(*positions: int) -> bytes:
    """A named BIT STRING with these bits set (DER: trailing zero bits dropped)."""
    size = max(positions) + 1
    value = 0
    for p in positions:
        value |= 1 << (size - 1 - p)
    nbytes = (size + 7) // 8
    unused = nbytes * 8 - size
    return _tlv(0x03, bytes([unused]) + (value << unused).to_bytes(nbytes, "big"))


def _read(data: bytes, pos: int = 0) -> tuple[int, bytes, bytes, int]:
    """One DER element at ``pos``: (tag, content, the whole element, next position)."""
    if pos + 2 > len(data):
        raise ValueError("truncated")
    tag, first = data[pos], data[pos + 1]
    if tag & 0x1F == 0x1F:
        raise ValueError("multi-byte tags are not used here")
    start = pos + 2
    if first & 0x80:
        count = first & 0x7F
        if count == 0 or count > 4:
            raise ValueError("bad length")
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    else:
        length = first
    end = start + length
    if end > len(data):
        raise ValueError("truncated")
    return tag, data[start:end], data[pos:end], end


def _items(content: bytes) -> list[tuple[int, bytes, bytes]]:
    out, pos = [], 0
    while pos < len(content):
        tag, inner, whole, pos = _read(content, pos)
        out.append((tag, inner, whole))
    return out


def _oid_text(content: bytes) -> str:
    arcs, value = [], 0
    for byte in content:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in [first, arcs[0] - 40 * first, *arcs[1:]])


# --- The request -----------------------------------------------------------------------------


class BadRequest(ValueError):
    def __init__(self, fail_bit: int, text: str) -> None:
        super().__init__(text)
        self.fail_bit = fail_bit


@dataclass(frozen=True)
class Query:
    imprint: bytes  # the MessageImprint element, echoed whole in the TSTInfo
    algorithm: bytes  # its AlgorithmIdentifier element
    hash_oid: str
    digest: bytes
    nonce: int | None
    cert_req: bool


def parse_query(body: bytes) -> Query:
    try:
        tag, content, _, end = _read(body)
        if tag != 0x30 or end != len(body):
            raise ValueError("not one SEQUENCE")
        items = _items(content)
        (vtag, version, _), (mtag, imprint, imprint_whole) = items[0], items[1]
        if vtag != 0x02 or int.from_bytes(version, "big") != 1 or mtag != 0x30:
            raise ValueError("version 1 and a MessageImprint expected")
        (atag, algorithm, algorithm_whole), (htag, digest, _) = _items(imprint)
        (otag, oid, _), *_params = _items(algorithm)
        if atag != 0x30 or htag != 0x04 or otag != 0x06:
            raise ValueError("bad MessageImprint")
        nonce, cert_req = None, False
        for tag, value, _ in items[2:]:
            if tag == 0x02:
                nonce = int.from_bytes(value, "big", signed=True)
            elif tag == 0x01:
                cert_req = value != b"\x00"
    except (ValueError, IndexError) as exc:
        raise BadRequest(BAD_DATA_FORMAT, f"not a TimeStampReq: {exc}") from exc
    hash_oid = _oid_text(oid)
    if DIGESTS.get(hash_oid) != len(digest):
        raise BadRequest(BAD_ALG, "SHA-256, SHA-384 or SHA-512 imprints only")
    return Query(imprint_whole, algorithm_whole, hash_oid, digest, nonce, cert_req)


# --- The authority's certificates ------------------------------------------------------------

# The order of P-256's group (SEC 2): a private key is an integer from 1 to the order less one.
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_NOT_BEFORE = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
_NOT_AFTER = datetime.datetime(2050, 1, 1, tzinfo=datetime.UTC)


@dataclass(frozen=True)
class Authority:
    root: x509.Certificate
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def root_pem(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.PEM)

    @property
    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Vigie sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


@functools.cache
def authority() -> Authority:
    """The sandbox's root (Ed25519, whose signatures are deterministic) and its time-stamping
    certificate (ECDSA P-256, as many real TSAs use), the same bytes every time."""
    root_key = ed25519.Ed25519PrivateKey.from_private_bytes(
        hashlib.sha256(b"vigie sandbox tsa root: a test key, never trust it").digest()
    )
    scalar = int.from_bytes(hashlib.sha256(b"vigie sandbox tsa: a test key").digest(), "big")
    key = ec.derive_private_key(scalar % (_P256_ORDER - 1) + 1, ec.SECP256R1())
    root_name = _name("Vigie sandbox TSA root (test only)")
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(0x5A1DB0C5)
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), False)
        .sign(root_key, None)
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name("Vigie sandbox TSA (test only)"))
        .issuer_name(root_name)
        .public_key(key.public_key())
        .serial_number(0x75A)
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            critical=True,
        )
        # RFC 3161, section 2.3: the only purpose, and critical.
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False
        )
        .sign(root_key, None)
    )
    return Authority(root, certificate, key)


# --- The answer ------------------------------------------------------------------------------


def _status(status: int, text: str = "", fail_bit: int | None = None) -> bytes:
    parts = [_int(status)]
    if text:
        parts.append(_seq(_tlv(0x0C, text.encode())))
    if fail_bit is not None:
        parts.append(_bits(fail_bit))
    return _seq(*parts)


def refusal(fail_bit: int, text: str) -> bytes:
    return _seq(_status(REJECTION, text, fail_bit))


def token(query: Query, *, serial: int, now: datetime.datetime, tamper: str = "none") -> bytes:
    """A TimeStampToken (CMS ContentInfo) for ``query``."""
    ca = authority()
    imprint = query.imprint
    if tamper == "imprint":  # another document's digest
        imprint = _seq(query.algorithm, _octets(bytes(b ^ 0xFF for b in query.digest)))
    fields = [_int(1), _oid(POLICY), imprint, _int(serial)]
    fields.append(_tlv(0x18, now.strftime("%Y%m%d%H%M%SZ").encode()))
    fields.append(_seq(_int(1)))  # accuracy: one second
    if query.nonce is not None:
        fields.append(_int(query.nonce + 1 if tamper == "nonce" else query.nonce))
    tst_info = _seq(*fields)
    cert_der = ca.certificate.public_bytes(serialization.Encoding.DER)
    attributes = [
        _seq(_oid(ID_CONTENT_TYPE), _set(_oid(ID_CT_TSTINFO))),
        _seq(_oid(ID_MESSAGE_DIGEST), _set(_octets(hashlib.sha256(tst_info).digest()))),
        # ESSCertIDv2 with SHA-256, the default algorithm, left out as DER requires (RFC 5035).
        _seq(
            _oid(ID_SIGNING_CERTIFICATE_V2),
            _set(_seq(_seq(_seq(_octets(hashlib.sha256(cert_der).digest()))))),
        ),
    ]
    signed_attributes = _set(*attributes)
    signature = ca.key.sign(signed_attributes, ec.ECDSA(hashes.SHA256()))
    if tamper == "signature":
        signature = signature[:-1] + bytes([signature[-1] ^ 0x01])
    sha256 = _seq(_oid(ID_SHA256))
    signer_info = _seq(
        _int(1),
        _seq(ca.certificate.issuer.public_bytes(), _int(ca.certificate.serial_number)),
        sha256,
        b"\xa0" + signed_attributes[1:],  # [0] IMPLICIT: the same SET, retagged
        _seq(_oid(ECDSA_WITH_SHA256)),
        _octets(signature),
    )
    signed_data = [
        _int(3),
        _set(sha256),
        _seq(_oid(ID_CT_TSTINFO), _explicit(0, _octets(tst_info))),
    ]
    if query.cert_req:
        signed_data.append(_explicit(0, cert_der))  # [0] IMPLICIT SET OF Certificate
    signed_data.append(_set(signer_info))
    return _seq(_oid(ID_SIGNED_DATA), _explicit(0, _seq(*signed_data)))


def granted(query: Query, *, serial: int, now: datetime.datetime, tamper: str = "none") -> bytes:
    return _seq(_status(GRANTED), token(query, serial=serial, now=now, tamper=tamper))


class Tsa:
    name = "tsa"
    bans = False
    outage_upstream = False

    def __init__(self) -> None:
        self._serials = itertools.count(1)
        self._lock = threading.Lock()

    def endpoint_of(self, method: str, path: str) -> str:
        if path in ("", "/"):
            return "timestamp"
        if path in ("/ca.pem", "/tsa.pem"):
            return "certificates"
        return "unknown"

    def token_label(self, req: Request) -> str | None:
        return None

    def outage_response(self, ctx: Context) -> Response:
        return Response(503, b"Service Unavailable", content_type="text/plain; charset=utf-8")

    def handle(self, ctx: Context) -> Response:
        req = ctx.request
        if ctx.endpoint == "certificates" and req.method in ("GET", "HEAD"):
            ca = authority()
            pem = ca.root_pem if req.path == "/ca.pem" else ca.certificate_pem
            return Response(200, pem, content_type="application/x-pem-file")
        if ctx.endpoint != "timestamp":
            return Response(404, b"Not Found", content_type="text/plain; charset=utf-8")
        if req.method != "POST":
            return Response(405, b"", headers=[("Allow", "POST")], content_type=None)
        content_type = req.environ.get("CONTENT_TYPE") or ""  # not an HTTP_* key in WSGI
        if content_type.split(";")[0].strip().lower() != QUERY_TYPE:
            return Response(415, b"application/timestamp-query expected", content_type=None)
        fault = ctx.simulate_upstream()
        if fault:
            status = int(fault.partition("/")[0]) if fault != "outage" else 503
            return Response(status, b"", content_type=None)
        length = int(req.environ.get("CONTENT_LENGTH") or 0)
        body = req.environ["wsgi.input"].read(min(length, MAX_QUERY + 1))
        return Response(200, self.answer(ctx, body), content_type=REPLY_TYPE)

    def answer(self, ctx: Context, body: bytes) -> bytes:
        knobs = ctx.knobs
        if len(body) > MAX_QUERY:
            return refusal(BAD_REQUEST, "request too large")
        try:
            query = parse_query(body)
        except BadRequest as exc:
            return refusal(exc.fail_bit, str(exc))
        if knobs.tsa_status == "rejection":
            return refusal(SYSTEM_FAILURE, "sandbox: tsa_status is rejection")
        with self._lock:
            serial = next(self._serials)
        now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        return granted(query, serial=serial, now=now, tamper=knobs.tsa_tamper)
