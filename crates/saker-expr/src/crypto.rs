//! Kestra's `EncryptionService`: AES/GCM/NoPadding with a base64 key of 16 or 32 bytes, a
//! random 12-byte IV prepended to ciphertext+tag, the whole base64-encoded. Byte-compatible with
//! Kestra, so values encrypted by one can be decrypted by the other.
//!
//! Used by the `encrypt()`/`decrypt()` functions and by hosts for SECRET inputs and outputs
//! (`kestra.encryption.secret-key`). The IV is the only randomness of this crate.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes128Gcm, Aes256Gcm, Nonce};
use base64::Engine as _;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The raw bytes of a base64 key, or why it cannot be used.
pub fn key_bytes(key: &str) -> Result<Vec<u8>, String> {
    let bytes = B64
        .decode(key.trim())
        .map_err(|_| "The encryption key must be base64 encoded".to_owned())?;
    if bytes.len() != 16 && bytes.len() != 32 {
        return Err(format!(
            "Invalid AES key length {} bytes: expected 16 or 32",
            bytes.len()
        ));
    }
    Ok(bytes)
}

/// A fresh random 256-bit key, base64-encoded.
pub fn generate_key() -> String {
    B64.encode(Aes256Gcm::generate_key(&mut OsRng))
}

/// Encrypts `plain` with the base64 `key`. The empty text stays empty, as in Kestra.
pub fn encrypt(key: &str, plain: &str) -> Result<String, String> {
    let key = key_bytes(key)?;
    if plain.is_empty() {
        return Ok(String::new());
    }
    let fail = |_| "encryption failed".to_owned();
    let (nonce, ct) = if key.len() == 16 {
        let c = Aes128Gcm::new_from_slice(&key).map_err(|_| "bad key".to_owned())?;
        let n = Aes128Gcm::generate_nonce(&mut OsRng);
        (n, c.encrypt(&n, plain.as_bytes()).map_err(fail)?)
    } else {
        let c = Aes256Gcm::new_from_slice(&key).map_err(|_| "bad key".to_owned())?;
        let n = Aes256Gcm::generate_nonce(&mut OsRng);
        (n, c.encrypt(&n, plain.as_bytes()).map_err(fail)?)
    };
    let mut out = nonce.to_vec();
    out.extend(ct);
    Ok(B64.encode(out))
}

/// Decrypts what [`encrypt`] produced with the same key.
pub fn decrypt(key: &str, encrypted: &str) -> Result<String, String> {
    let key = key_bytes(key)?;
    if encrypted.is_empty() {
        return Ok(String::new());
    }
    let data = B64
        .decode(encrypted.trim())
        .map_err(|_| "The encrypted value must be base64 encoded".to_owned())?;
    if data.len() < 12 + 16 {
        return Err("The encrypted value is too short".to_owned());
    }
    let (iv, ct) = data.split_at(12);
    let nonce = Nonce::from_slice(iv);
    let fail = |_| "decryption failed: wrong key or corrupted data".to_owned();
    let plain = if key.len() == 16 {
        Aes128Gcm::new_from_slice(&key)
            .map_err(|_| "bad key".to_owned())?
            .decrypt(nonce, ct)
            .map_err(fail)?
    } else {
        Aes256Gcm::new_from_slice(&key)
            .map_err(|_| "bad key".to_owned())?
            .decrypt(nonce, ct)
            .map_err(fail)?
    };
    String::from_utf8(plain).map_err(|_| "decrypted bytes are not UTF-8".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_both_key_sizes_and_wrong_key_fails() {
        for size in [16usize, 32] {
            let key = B64.encode(vec![7u8; size]);
            let enc = encrypt(&key, "hello").unwrap();
            assert_ne!(enc, "hello");
            assert_eq!(decrypt(&key, &enc).unwrap(), "hello");
            let other = B64.encode(vec![8u8; size]);
            assert!(decrypt(&other, &enc).is_err());
        }
        let generated = generate_key();
        assert_eq!(key_bytes(&generated).unwrap().len(), 32);
        assert_ne!(generated, generate_key());
        assert!(key_bytes("c2hvcnQ=").unwrap_err().contains("length 5"));
    }
}
