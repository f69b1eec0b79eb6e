//! Event signing keys at rest: each private key is sealed with the server's master key
//! (XChaCha20-Poly1305, a random 24-byte nonce per seal) and bound to its event and key id, so a
//! database dump alone yields no key that can sign tickets, and a sealed key copied onto another
//! event's row does not open.

use crate::id::EventId;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{Key, KeyInit, XChaCha20Poly1305, XNonce};

const NONCE_LEN: usize = 24;

/// The sealed key did not open: a different master key, another event's row, or tampering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the event key does not open with this master key")]
pub struct SealError;

fn aad(event_id: EventId, key_id: u8) -> [u8; 17] {
    let mut a = [0u8; 17];
    a[..16].copy_from_slice(event_id.as_uuid().as_bytes());
    a[16] = key_id;
    a
}

/// Seals `secret` (nonce ‖ ciphertext ‖ tag). The caller draws `nonce` from a CSPRNG.
pub fn seal(
    master: &[u8; 32],
    event_id: EventId,
    key_id: u8,
    secret: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
) -> Result<Vec<u8>, SealError> {
    let cipher = XChaCha20Poly1305::new(&Key::from(*master));
    let ct = cipher
        .encrypt(&XNonce::from(*nonce), Payload { msg: secret, aad: &aad(event_id, key_id) })
        .map_err(|_| SealError)?;
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Opens what [`seal`] made for the same event and key id.
pub fn open(master: &[u8; 32], event_id: EventId, key_id: u8, sealed: &[u8]) -> Result<[u8; 32], SealError> {
    if sealed.len() <= NONCE_LEN {
        return Err(SealError);
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SealError)?;
    let cipher = XChaCha20Poly1305::new(&Key::from(*master));
    let plain = cipher
        .decrypt(&XNonce::from(nonce), Payload { msg: ct, aad: &aad(event_id, key_id) })
        .map_err(|_| SealError)?;
    plain.try_into().map_err(|_| SealError)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASTER: [u8; 32] = [9; 32];
    const SECRET: [u8; 32] = [42; 32];

    fn ev(n: u128) -> EventId {
        uuid::Uuid::from_u128(n).into()
    }

    #[test]
    fn round_trip() {
        let sealed = seal(&MASTER, ev(1), 1, &SECRET, &[5; 24]).unwrap();
        assert_eq!(sealed.len(), 24 + 32 + 16);
        assert!(!sealed.windows(32).any(|w| w == SECRET), "the secret must not appear in clear");
        assert_eq!(open(&MASTER, ev(1), 1, &sealed), Ok(SECRET));
    }

    #[test]
    fn wrong_master_event_key_id_or_tampering_do_not_open() {
        let sealed = seal(&MASTER, ev(1), 1, &SECRET, &[5; 24]).unwrap();
        assert_eq!(open(&[8; 32], ev(1), 1, &sealed), Err(SealError));
        assert_eq!(open(&MASTER, ev(2), 1, &sealed), Err(SealError));
        assert_eq!(open(&MASTER, ev(1), 2, &sealed), Err(SealError));
        for i in 0..sealed.len() {
            let mut s = sealed.clone();
            s[i] ^= 1;
            assert_eq!(open(&MASTER, ev(1), 1, &s), Err(SealError), "byte {i}");
        }
        assert_eq!(open(&MASTER, ev(1), 1, &sealed[..24]), Err(SealError));
        assert_eq!(open(&MASTER, ev(1), 1, &[]), Err(SealError));
    }
}
