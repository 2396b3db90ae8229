//! Rule bundles: the signature check on the raw input, the parser alone, and the parser behind
//! a valid signature (the input signed here with a fixed test key), as PID 1 reads a `.vgb`
//! dropped on the stick.
#![no_main]

use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use vigie::bundle::{sign_body, Bundle};

fuzz_target!(|data: &[u8]| {
    vigie_fuzz::setup();
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let public = key.verifying_key();
    let _ = Bundle::verify(data, &public);
    if let Ok(b) = Bundle::open_unverified(data) {
        let _ = b.hash_iocs();
    }
    // The body as if signed by the stick's key: everything after the check is reached.
    let signed = sign_body(data, &key);
    if let Ok(b) = Bundle::verify(&signed, &public) {
        let _ = b.hash_iocs();
    }
});
