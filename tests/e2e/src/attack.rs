//! What an attacker holding a signed action (a compromised server, a relay, anyone who saw it
//! pass) can do to its signatures without the signer's key: write the same signature another
//! way. Every form here still verifies; an agent must take each for the signature it is.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use pgp::bytes::Bytes;
use pgp::packet::{Notation, Subpacket, SubpacketData};
use pgp::ser::Serialize;

/// The re-encodings of `sig` (MIG's one-line form), each with a name for test messages.
pub fn signature_reencodings(sig: &str) -> Vec<(&'static str, String)> {
    let detached = mig_pgp::armor::decode_signature(sig).expect("a signature to re-encode");
    let packet = detached.to_bytes().expect("signature bytes");
    let body = STANDARD.encode(&packet);
    let crc = {
        let c = mig_pgp::armor::crc24(&packet);
        STANDARD.encode([(c >> 16) as u8, (c >> 8) as u8, c as u8])
    };
    let wrapped: Vec<String> = body
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();

    let armored = detached
        .to_armored_string(Default::default())
        .expect("armored signature");

    // The unhashed area is not covered by the signature: anyone may add to it.
    let mut annotated = detached.clone();
    annotated
        .signature
        .unhashed_subpacket_push(
            Subpacket::regular(SubpacketData::Notation(Notation {
                readable: true,
                name: Bytes::from_static(b"replay@attacker.example"),
                value: Bytes::from_static(b"again"),
            }))
            .expect("a notation subpacket"),
        )
        .expect("an unhashed subpacket");
    let annotated = mig_pgp::armor::encode_packet_bytes(&annotated.to_bytes().expect("bytes"));

    vec![
        ("armored", armored),
        ("without its CRC-24", body.clone()),
        ("with trailing whitespace", format!("{sig} \n\t")),
        (
            "base64 in 64-column lines",
            format!("{}\n={crc}", wrapped.join("\n")),
        ),
        (
            "with a five-byte packet length",
            mig_pgp::armor::encode_packet_bytes(&long_length_header(&packet)),
        ),
        ("with an extra unhashed subpacket", annotated),
    ]
}

/// The same packet under a new-format header with a five-byte length (RFC 4880, 4.2.2.3):
/// a legal but different encoding of the same signature packet.
fn long_length_header(packet: &[u8]) -> Vec<u8> {
    let first = packet[0];
    let (header_len, body_len) = if first & 0x40 == 0 {
        // Old format: the length type is in the low two bits.
        match first & 0x03 {
            0 => (2, packet[1] as usize),
            1 => (3, u16::from_be_bytes([packet[1], packet[2]]) as usize),
            2 => (
                5,
                u32::from_be_bytes([packet[1], packet[2], packet[3], packet[4]]) as usize,
            ),
            _ => panic!("indeterminate length"),
        }
    } else {
        match packet[1] {
            l @ 0..=191 => (2, l as usize),
            192..=223 => (
                3,
                ((packet[1] as usize - 192) << 8) + packet[2] as usize + 192,
            ),
            255 => (
                6,
                u32::from_be_bytes([packet[2], packet[3], packet[4], packet[5]]) as usize,
            ),
            _ => panic!("partial length"),
        }
    };
    assert_eq!(header_len + body_len, packet.len(), "one packet");
    let mut out = vec![0xC0 | 2, 0xFF];
    out.extend((body_len as u32).to_be_bytes());
    out.extend(&packet[header_len..]);
    out
}
