//! Wire bytes for the tests: real captures and RFC vectors, stored as hex text files.

/// Bytes of hex text, ignoring whitespace.
pub(crate) fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text
        .bytes()
        .filter(|byte| !byte.is_ascii_whitespace())
        .collect();
    digits
        .chunks(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).expect("ascii hex");
            u8::from_str_radix(pair, 16).expect("hex digit pair")
        })
        .collect()
}

/// A ClientHello record OpenSSL 3.0 wrote for `www.netflix.com` (ALPN h2, http/1.1).
pub(crate) fn openssl_client_hello() -> Vec<u8> {
    hex(include_str!(
        "../../testdata/domains/openssl-client-hello.hex"
    ))
}

/// RFC 9001 Appendix A.2: the protected client Initial (QUIC v1, SNI `example.com`).
pub(crate) fn rfc9001_client_initial() -> Vec<u8> {
    hex(include_str!(
        "../../testdata/domains/rfc9001-client-initial.hex"
    ))
}

/// RFC 9369 Appendix A.2: the protected client Initial (QUIC v2, SNI `example.com`).
pub(crate) fn rfc9369_client_initial() -> Vec<u8> {
    hex(include_str!(
        "../../testdata/domains/rfc9369-client-initial.hex"
    ))
}

/// RFC 9001 Appendix A: the destination connection ID both vectors derive keys from.
pub(crate) const RFC_DCID: [u8; 8] = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];

/// RFC 9001 Appendix A.2: the CRYPTO frame carried by the client Initial (v1 and v2 alike).
pub(crate) fn rfc_crypto_frame() -> Vec<u8> {
    hex(
        "060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868
         04fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578
         616d706c652e636f6dff01000100000a00080006001d00170018001000070005
         04616c706e000500050100000000003300260024001d00209370b2c9caa47fba
         baf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400
         0d0010000e0403050306030203080408050806002d00020101001c0002400100
         3900320408ffffffffffffffff05048000ffff07048000ffff08011001048000
         75300901100f088394c8f03e51570806048000ffff",
    )
}
