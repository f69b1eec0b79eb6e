//! Ticket codes: what a QR code on a ticket carries, and how a door scanner checks it with no
//! network.
//!
//! A code is a compact binary payload — which event, which ticket, which ticket type, when it is
//! valid, and which of the event's keys signed it — followed by that key's Ed25519 signature,
//! written in unpadded RFC 4648 base32 so a QR code can use its dense alphanumeric mode (196
//! characters: QR version 8 at error-correction level M). Nothing in it comes from the holder:
//! ids are random, and without the event's private key no one can make or alter a code.
//!
//! Layout (big-endian): version (1 byte) · key id (1) · event id (16) · ticket id (16) · ticket
//! type id (16, zeros for none) · valid from (u32 Unix seconds) · valid until (u32) · signature (64).

use data_encoding::BASE32_NOPAD;
use ed25519_dalek::{Signature, Signer};
pub use ed25519_dalek::{SigningKey, VerifyingKey};
use uuid::Uuid;

use crate::id::{EventId, TicketId, TicketTypeId};

/// The payload layout this module writes and reads.
pub const VERSION: u8 = 1;
const SIGNED_LEN: usize = 1 + 1 + 16 + 16 + 16 + 4 + 4;
const CODE_LEN: usize = SIGNED_LEN + 64;

/// What a valid code says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketClaims {
    pub event_id: EventId,
    pub ticket_id: TicketId,
    pub ticket_type_id: Option<TicketTypeId>,
    /// Unix seconds.
    pub valid_from: i64,
    pub valid_until: i64,
}

/// Why a code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Not base32, the wrong length or an unknown layout version: not one of our codes.
    #[error("this is not a ticket code")]
    Malformed,
    /// The event has no such key (never made, or retired).
    #[error("the code was signed with a key this event does not have")]
    UnknownKey,
    /// Forged or altered.
    #[error("the ticket code's signature does not verify")]
    BadSignature,
    /// The ticket was voided (refunded, cancelled or reissued).
    #[error("this ticket has been voided")]
    Revoked,
    #[error("this ticket is not valid yet")]
    NotYetValid,
    #[error("this ticket is no longer valid")]
    Expired,
    /// Validity outside what the layout holds (before 1970 or after 2106).
    #[error("the validity window cannot be encoded")]
    Unencodable,
}

/// A code taken apart but not yet verified: enough to find the key to check it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCode {
    pub key_id: u8,
    pub claims: TicketClaims,
    signed: [u8; SIGNED_LEN],
    signature: [u8; 64],
}

fn seconds(v: i64) -> Result<[u8; 4], CodeError> {
    u32::try_from(v).map(u32::to_be_bytes).map_err(|_| CodeError::Unencodable)
}

/// Signs `claims` with the event's key number `key_id`.
pub fn encode(claims: &TicketClaims, key_id: u8, key: &SigningKey) -> Result<String, CodeError> {
    let mut bytes = Vec::with_capacity(CODE_LEN);
    bytes.push(VERSION);
    bytes.push(key_id);
    bytes.extend_from_slice(claims.event_id.as_uuid().as_bytes());
    bytes.extend_from_slice(claims.ticket_id.as_uuid().as_bytes());
    bytes.extend_from_slice(claims.ticket_type_id.map_or(Uuid::nil(), Uuid::from).as_bytes());
    bytes.extend_from_slice(&seconds(claims.valid_from)?);
    bytes.extend_from_slice(&seconds(claims.valid_until)?);
    let signature = key.sign(&bytes);
    bytes.extend_from_slice(&signature.to_bytes());
    Ok(BASE32_NOPAD.encode(&bytes))
}

fn uuid_at(b: &[u8], at: usize) -> Uuid {
    let mut id = [0u8; 16];
    id.copy_from_slice(&b[at..at + 16]);
    Uuid::from_bytes(id)
}

fn u32_at(b: &[u8], at: usize) -> i64 {
    i64::from(u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]))
}

/// Takes a scanned code apart. Scanners may hand over lower case or surrounding whitespace.
pub fn parse(code: &str) -> Result<ParsedCode, CodeError> {
    let text = code.trim().to_ascii_uppercase();
    // Refuse oversized input before decoding it.
    if text.len() != BASE32_NOPAD.encode_len(CODE_LEN) {
        return Err(CodeError::Malformed);
    }
    let bytes = BASE32_NOPAD.decode(text.as_bytes()).map_err(|_| CodeError::Malformed)?;
    // (The decoder also refuses non-zero spare bits in the last character, so each code has
    // exactly one spelling.)
    if bytes.len() != CODE_LEN || bytes[0] != VERSION {
        return Err(CodeError::Malformed);
    }
    let tt = uuid_at(&bytes, 34);
    let claims = TicketClaims {
        event_id: uuid_at(&bytes, 2).into(),
        ticket_id: uuid_at(&bytes, 18).into(),
        ticket_type_id: (!tt.is_nil()).then_some(tt.into()),
        valid_from: u32_at(&bytes, 50),
        valid_until: u32_at(&bytes, 54),
    };
    let mut signed = [0u8; SIGNED_LEN];
    signed.copy_from_slice(&bytes[..SIGNED_LEN]);
    let mut signature = [0u8; 64];
    signature.copy_from_slice(&bytes[SIGNED_LEN..]);
    Ok(ParsedCode { key_id: bytes[1], claims, signed, signature })
}

impl ParsedCode {
    /// Checks the signature against the event's public key. Strict verification: no malleable
    /// signatures, no weak keys.
    pub fn verify_signature(&self, key: &VerifyingKey) -> Result<(), CodeError> {
        let sig = Signature::from_bytes(&self.signature);
        key.verify_strict(&self.signed, &sig).map_err(|_| CodeError::BadSignature)
    }
}

/// Everything a scanner checks, in order: layout, key, signature, revocation, validity window.
/// `key` finds the event's public key by (event, key id); `revoked` says whether a ticket is
/// void. What it does not know — whether the ticket was already used — is the caller's.
pub fn verify(
    code: &str,
    key: impl FnOnce(EventId, u8) -> Option<VerifyingKey>,
    revoked: impl FnOnce(TicketId) -> bool,
    now_unix: i64,
) -> Result<TicketClaims, CodeError> {
    let parsed = parse(code)?;
    let k = key(parsed.claims.event_id, parsed.key_id).ok_or(CodeError::UnknownKey)?;
    parsed.verify_signature(&k)?;
    let c = parsed.claims;
    if revoked(c.ticket_id) {
        return Err(CodeError::Revoked);
    }
    if now_unix < c.valid_from {
        return Err(CodeError::NotYetValid);
    }
    if now_unix > c.valid_until {
        return Err(CodeError::Expired);
    }
    Ok(c)
}

/// An event signing key from 32 secret bytes (the caller draws them from a CSPRNG).
pub fn signing_key(secret: &[u8; 32]) -> SigningKey {
    SigningKey::from_bytes(secret)
}

/// A public key from its 32 stored bytes; `None` when they are not a valid point.
pub fn verifying_key(public: &[u8]) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = public.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        signing_key(&[seed; 32])
    }

    fn claims() -> TicketClaims {
        TicketClaims {
            event_id: Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001).into(),
            ticket_id: Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0002).into(),
            ticket_type_id: Some(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0003).into()),
            valid_from: 1_700_000_000,
            valid_until: 1_800_000_000,
        }
    }

    fn check(code: &str, k: &SigningKey) -> Result<TicketClaims, CodeError> {
        let vk = k.verifying_key();
        verify(code, |_, kid| (kid == 3).then_some(vk), |_| false, 1_750_000_000)
    }

    #[test]
    fn round_trip_fits_a_low_qr_version() {
        let k = key(7);
        let code = encode(&claims(), 3, &k).unwrap();
        assert_eq!(code.len(), 196);
        assert!(code.chars().all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c)));
        assert_eq!(check(&code, &k), Ok(claims()));
        // Scanners that lower-case or pad with whitespace still read it.
        assert_eq!(check(&format!(" {} \n", code.to_lowercase()), &k), Ok(claims()));
        let none = TicketClaims { ticket_type_id: None, ..claims() };
        assert_eq!(check(&encode(&none, 3, &k).unwrap(), &k), Ok(none));
    }

    #[test]
    fn every_single_byte_alteration_is_refused() {
        let k = key(7);
        let code = encode(&claims(), 3, &k).unwrap();
        let bytes = BASE32_NOPAD.decode(code.as_bytes()).unwrap();
        for i in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[i] ^= flip;
                let altered = BASE32_NOPAD.encode(&b);
                let got = check(&altered, &k);
                assert!(got.is_err(), "byte {i} ^ {flip:#x} accepted");
            }
        }
        // And every character of the text form.
        for i in 0..code.len() {
            let mut c = code.clone().into_bytes();
            c[i] = if c[i] == b'A' { b'B' } else { b'A' };
            assert!(check(std::str::from_utf8(&c).unwrap(), &k).is_err(), "char {i} accepted");
        }
    }

    #[test]
    fn another_events_key_is_refused() {
        let code = encode(&claims(), 3, &key(7)).unwrap();
        assert_eq!(check(&code, &key(8)), Err(CodeError::BadSignature));
        // A key id the event does not have.
        let vk = key(7).verifying_key();
        let got = verify(&code, |_, kid| (kid == 4).then_some(vk), |_| false, 1_750_000_000);
        assert_eq!(got, Err(CodeError::UnknownKey));
    }

    #[test]
    fn revoked_and_out_of_window_are_refused() {
        let k = key(7);
        let vk = k.verifying_key();
        let code = encode(&claims(), 3, &k).unwrap();
        let t = claims().ticket_id;
        assert_eq!(verify(&code, |_, _| Some(vk), |id| id == t, 1_750_000_000), Err(CodeError::Revoked));
        assert_eq!(verify(&code, |_, _| Some(vk), |_| false, 1_699_999_999), Err(CodeError::NotYetValid));
        assert_eq!(verify(&code, |_, _| Some(vk), |_| false, 1_800_000_001), Err(CodeError::Expired));
        assert!(verify(&code, |_, _| Some(vk), |_| false, 1_800_000_000).is_ok());
    }

    #[test]
    fn malformed_input_is_refused_without_panicking() {
        let k = key(7);
        for bad in ["", "A", "not a code", &"A".repeat(196), &"A".repeat(10_000), "0000", "é"] {
            assert!(check(bad, &k).is_err(), "{bad:?}");
        }
        let code = encode(&claims(), 3, &k).unwrap();
        assert_eq!(check(&code[..195], &k), Err(CodeError::Malformed));
        assert_eq!(check(&format!("{code}A"), &k), Err(CodeError::Malformed));
        // Another layout version.
        let mut b = BASE32_NOPAD.decode(code.as_bytes()).unwrap();
        b[0] = 2;
        assert_eq!(check(&BASE32_NOPAD.encode(&b), &k), Err(CodeError::Malformed));
    }

    #[test]
    fn unencodable_windows_are_an_error() {
        let c = TicketClaims { valid_until: i64::from(u32::MAX) + 1, ..claims() };
        assert_eq!(encode(&c, 1, &key(1)), Err(CodeError::Unencodable));
        let c = TicketClaims { valid_from: -1, ..claims() };
        assert_eq!(encode(&c, 1, &key(1)), Err(CodeError::Unencodable));
    }

    #[test]
    fn bad_public_keys_are_none() {
        assert!(verifying_key(&[0u8; 31]).is_none());
        assert!(verifying_key(key(1).verifying_key().as_bytes()).is_some());
    }
}
