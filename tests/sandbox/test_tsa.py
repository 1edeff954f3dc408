"""The sandbox's stand-in time-stamping authority (sandbox/tsa.py) over real HTTP, read with
rfc3161-client, the library Vigie's client uses (the full round trip with Vigie's checks and
OpenSSL's is tests/admissions/test_audit_timestamps.py)."""

import hashlib

import requests
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    VerifierBuilder,
    decode_timestamp_response,
)

from sandbox import tsa


def _post(sandbox, body: bytes, content_type: str = tsa.QUERY_TYPE) -> requests.Response:
    return requests.post(
        f"{sandbox.url}/tsa", data=body, headers={"Content-Type": content_type}, timeout=10
    )


def test_the_certificates_are_the_same_in_every_process(sandbox):
    served = requests.get(f"{sandbox.url}/tsa/ca.pem", timeout=10)
    assert served.status_code == 200
    assert served.content == tsa.authority().root_pem  # built in this process
    leaf = x509.load_pem_x509_certificate(
        requests.get(f"{sandbox.url}/tsa/tsa.pem", timeout=10).content
    )
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical
    assert list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    leaf.verify_directly_issued_by(tsa.authority().root)


def test_a_sha512_query_without_cert_req_is_granted_without_the_certificate(sandbox):
    query = (
        TimestampRequestBuilder()
        .data(b"document")
        .hash_algorithm(HashAlgorithm.SHA512)
        .cert_request(cert_request=False)
        .build()
    )
    answer = _post(sandbox, query.as_bytes())
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == tsa.REPLY_TYPE
    reply = decode_timestamp_response(answer.content)
    assert reply.status == PKIStatus.GRANTED
    assert reply.tst_info.message_imprint.message == hashlib.sha512(b"document").digest()
    assert reply.tst_info.nonce == query.nonce
    assert reply.signed_data.certificates == set()
    # Without the certificate in the token, the verifier is given it.
    verifier = (
        VerifierBuilder.from_request(query)
        .tsa_certificate(tsa.authority().certificate)
        .add_root_certificate(tsa.authority().root)
        .build()
    )
    assert verifier.verify_message(reply, b"document")


def test_serial_numbers_grow(sandbox):
    query = TimestampRequestBuilder().data(b"x").hash_algorithm(HashAlgorithm.SHA256).build()
    serials = [
        decode_timestamp_response(_post(sandbox, query.as_bytes()).content).tst_info.serial_number
        for _ in range(2)
    ]
    assert serials[1] > serials[0]


def test_what_is_not_a_sha2_time_stamp_query_is_refused_in_the_protocol(sandbox):
    garbage = decode_timestamp_response(_post(sandbox, b"not DER").content)
    assert garbage.status == PKIStatus.REJECTION
    assert garbage.status_string[0].startswith("not a TimeStampReq")
    sha1 = "1.3.14.3.2.26"
    digest = hashlib.sha1(b"x", usedforsecurity=False).digest()
    imprint = tsa._seq(tsa._seq(tsa._oid(sha1)), tsa._octets(digest))
    refused = decode_timestamp_response(_post(sandbox, tsa._seq(tsa._int(1), imprint)).content)
    assert refused.status == PKIStatus.REJECTION
    assert refused.status_string == ["SHA-256, SHA-384 or SHA-512 imprints only"]


def test_http_level_refusals(sandbox):
    assert _post(sandbox, b"x", content_type="application/octet-stream").status_code == 415
    assert requests.get(f"{sandbox.url}/tsa", timeout=10).status_code == 405
    assert requests.get(f"{sandbox.url}/tsa/other", timeout=10).status_code == 404


def test_the_outage_knob_applies_to_the_authority(sandbox):
    sandbox.configure(apis={"tsa": {"outage": True}})
    query = TimestampRequestBuilder().data(b"x").hash_algorithm(HashAlgorithm.SHA256).build()
    assert _post(sandbox, query.as_bytes()).status_code == 503
