//! Randomness from the platform CSPRNG (`crypto.getRandomValues` under wasm).

use noizylab_core::error::ApiError;

pub fn bytes<const N: usize>() -> Result<[u8; N], ApiError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| ApiError::internal(format!("getrandom: {e}")))?;
    Ok(buf)
}

/// A random id: 128 bits as 32 hex characters.
pub fn id() -> Result<String, ApiError> {
    Ok(noizylab_core::request_id::from_random(bytes::<16>()?))
}
