//! Web Push: message encryption (RFC 8291, `aes128gcm` content coding of RFC 8188) and
//! VAPID (RFC 8292) application-server identification.
//!
//! Randomness (the ephemeral key and the salt) is passed in, so this module stays pure and
//! testable; the worker draws it from the platform's CSPRNG.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use base64::Engine;
use hkdf::Hkdf;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{PublicKey, SecretKey};
use sha2::Sha256;

/// The record size announced in the header (one record holds any push payload).
const RECORD_SIZE: u32 = 4096;
/// Push services accept at most 4096 bytes of body; this leaves room for the header.
pub const MAX_PAYLOAD: usize = 3993;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| "not base64url".to_owned())
}

fn expand(prk: &Hkdf<Sha256>, info: &[u8], out: &mut [u8]) -> Result<(), String> {
    prk.expand(info, out).map_err(|_| "hkdf expand".to_owned())
}

/// Encrypts `payload` for a subscription (`p256dh` and `auth` as the browser gives them,
/// base64url) with the ephemeral key `as_secret` and `salt`: the request body to POST,
/// `Content-Encoding: aes128gcm`.
pub fn encrypt(
    p256dh: &str,
    auth: &str,
    payload: &[u8],
    as_secret: [u8; 32],
    salt: [u8; 16],
) -> Result<Vec<u8>, String> {
    if payload.len() > MAX_PAYLOAD {
        return Err(format!("a push payload is at most {MAX_PAYLOAD} bytes"));
    }
    let ua_bytes = unb64(p256dh)?;
    let ua_public = PublicKey::from_sec1_bytes(&ua_bytes).map_err(|_| "p256dh is not a P-256 public key".to_owned())?;
    let auth_secret = unb64(auth)?;
    if auth_secret.len() != 16 {
        return Err("auth is 16 bytes".into());
    }
    let as_private = SecretKey::from_slice(&as_secret).map_err(|_| "bad ephemeral key".to_owned())?;
    let as_public = as_private.public_key().to_encoded_point(false);
    let ua_point = ua_public.to_encoded_point(false);

    // RFC 8291 §3.3–3.4: ecdh_secret → IKM (with the auth secret and both public keys).
    let shared = p256::ecdh::diffie_hellman(as_private.to_nonzero_scalar(), ua_public.as_affine());
    let mut key_info = b"WebPush: info\0".to_vec();
    key_info.extend_from_slice(ua_point.as_bytes());
    key_info.extend_from_slice(as_public.as_bytes());
    let prk_key = Hkdf::<Sha256>::new(Some(&auth_secret), shared.raw_secret_bytes());
    let mut ikm = [0u8; 32];
    expand(&prk_key, &key_info, &mut ikm)?;

    // RFC 8188 §2.2–2.3: content-encryption key and nonce from the salt.
    let prk = Hkdf::<Sha256>::new(Some(&salt), &ikm);
    let mut cek = [0u8; 16];
    expand(&prk, b"Content-Encoding: aes128gcm\0", &mut cek)?;
    let mut nonce = [0u8; 12];
    expand(&prk, b"Content-Encoding: nonce\0", &mut nonce)?;

    // One record, the last: payload then the 0x02 delimiter, no padding.
    let mut plaintext = payload.to_vec();
    plaintext.push(2);
    let cipher = Aes128Gcm::new_from_slice(&cek).map_err(|_| "aes key".to_owned())?;
    let sealed = cipher.encrypt(Nonce::from_slice(&nonce), plaintext.as_slice()).map_err(|_| "aes-gcm".to_owned())?;

    let keyid = as_public.as_bytes();
    let mut body = Vec::with_capacity(16 + 4 + 1 + keyid.len() + sealed.len());
    body.extend_from_slice(&salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(keyid.len() as u8);
    body.extend_from_slice(keyid);
    body.extend_from_slice(&sealed);
    Ok(body)
}

/// The VAPID public key (uncompressed P-256 point, base64url), for browsers'
/// `applicationServerKey` and the `k=` parameter.
pub fn vapid_public_key(private: &[u8; 32]) -> Result<String, String> {
    let key = SecretKey::from_slice(private).map_err(|_| "bad VAPID private key".to_owned())?;
    Ok(b64(key.public_key().to_encoded_point(false).as_bytes()))
}

/// `Authorization: vapid t=<JWT>, k=<public key>` for a push to `endpoint` (RFC 8292):
/// an ES256 JWT with `aud` = the endpoint's origin, `exp` = 12 h, `sub` = a contact.
pub fn vapid_authorization(private: &[u8; 32], endpoint: &str, subject: &str, now: i64) -> Result<String, String> {
    let scheme_end = endpoint.find("://").ok_or("the endpoint is not a URL")? + 3;
    let host_end = endpoint[scheme_end..].find('/').map(|i| scheme_end + i).unwrap_or(endpoint.len());
    let audience = &endpoint[..host_end];
    let header = b64(br#"{"typ":"JWT","alg":"ES256"}"#);
    let claims =
        b64(serde_json::json!({ "aud": audience, "exp": now + 12 * 3600, "sub": subject }).to_string().as_bytes());
    let signing_input = format!("{header}.{claims}");
    let key = SigningKey::from_slice(private).map_err(|_| "bad VAPID private key".to_owned())?;
    let signature: Signature = key.sign(signing_input.as_bytes());
    Ok(format!("vapid t={signing_input}.{}, k={}", b64(&signature.to_bytes()), vapid_public_key(private)?))
}

/// A VAPID private key from its base64url form (32 bytes).
pub fn parse_private_key(text: &str) -> Result<[u8; 32], String> {
    unb64(text.trim())?.try_into().map_err(|_| "a VAPID private key is 32 bytes, base64url".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier;
    use p256::ecdsa::VerifyingKey;

    /// Decrypts as a browser would (RFC 8291 from the receiving side), to check `encrypt`.
    fn decrypt(ua_secret: &SecretKey, auth: &[u8], body: &[u8]) -> Vec<u8> {
        let salt = &body[..16];
        let idlen = body[20] as usize;
        let as_public = PublicKey::from_sec1_bytes(&body[21..21 + idlen]).expect("keyid");
        let shared = p256::ecdh::diffie_hellman(ua_secret.to_nonzero_scalar(), as_public.as_affine());
        let mut info = b"WebPush: info\0".to_vec();
        info.extend_from_slice(ua_secret.public_key().to_encoded_point(false).as_bytes());
        info.extend_from_slice(&body[21..21 + idlen]);
        let mut ikm = [0u8; 32];
        Hkdf::<Sha256>::new(Some(auth), shared.raw_secret_bytes()).expand(&info, &mut ikm).expect("ikm");
        let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
        let (mut cek, mut nonce) = ([0u8; 16], [0u8; 12]);
        prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek).expect("cek");
        prk.expand(b"Content-Encoding: nonce\0", &mut nonce).expect("nonce");
        let mut plain = Aes128Gcm::new_from_slice(&cek)
            .expect("key")
            .decrypt(Nonce::from_slice(&nonce), &body[21 + idlen..])
            .expect("decrypts");
        assert_eq!(plain.pop(), Some(2), "the last record's delimiter");
        plain
    }

    #[test]
    fn a_payload_round_trips_through_the_browser_side() {
        let ua = SecretKey::from_slice(&[7u8; 32]).expect("ua key");
        let p256dh = b64(ua.public_key().to_encoded_point(false).as_bytes());
        let auth = [9u8; 16];
        let body = encrypt(&p256dh, &b64(&auth), b"{\"title\":\"Ready\"}", [3u8; 32], [5u8; 16]).expect("encrypts");
        assert_eq!(&body[..16], &[5u8; 16]);
        assert_eq!(u32::from_be_bytes([body[16], body[17], body[18], body[19]]), 4096);
        assert_eq!(body[20], 65);
        assert_eq!(decrypt(&ua, &auth, &body), b"{\"title\":\"Ready\"}");
        assert!(encrypt(&p256dh, &b64(&[1u8; 15]), b"x", [3u8; 32], [5u8; 16]).is_err());
        assert!(encrypt("bm90IGEga2V5", &b64(&auth), b"x", [3u8; 32], [5u8; 16]).is_err());
    }

    #[test]
    fn the_vapid_token_is_an_es256_jwt_for_the_push_service_origin() {
        let private = [11u8; 32];
        let header = vapid_authorization(
            &private,
            "https://push.example.net/wpush/abc",
            "mailto:ops@noizylab.example",
            1_700_000_000,
        )
        .expect("vapid");
        let token = header.strip_prefix("vapid t=").and_then(|r| r.split(", k=").next()).expect("t=");
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value = serde_json::from_slice(&unb64(parts[1]).expect("b64")).expect("json");
        assert_eq!(claims["aud"], "https://push.example.net");
        assert_eq!(claims["exp"], 1_700_000_000 + 43_200);
        let key: VerifyingKey = *SigningKey::from_slice(&private).expect("key").verifying_key();
        let sig = Signature::from_slice(&unb64(parts[2]).expect("sig")).expect("64 bytes");
        assert!(key.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig).is_ok());
        assert!(header.ends_with(&vapid_public_key(&private).expect("pk")));
    }
}
