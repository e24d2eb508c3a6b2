//! A software passkey authenticator, as a browser and a platform authenticator would answer
//! `navigator.credentials.create()` and `.get()`: a P-256 key, `none` attestation, the
//! authenticator data (rpIdHash, flags, counter, attested credential data with a COSE key),
//! the client data JSON with the challenge and origin, and ES256 signatures over
//! `authData || SHA-256(clientDataJSON)`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciborium::Value;
use p256::ecdsa::SigningKey;
use p256::ecdsa::signature::Signer as _;
use rand::RngCore as _;
use serde_json::json;
use sha2::{Digest as _, Sha256};

/// User present, user verified, backup eligible, backed up.
const FLAGS: u8 = 0x01 | 0x04 | 0x08 | 0x10;
/// Attested credential data follows.
const ATTESTED: u8 = 0x40;

pub struct Authenticator {
    key: SigningKey,
    pub credential_id: Vec<u8>,
    /// The account id the relying party gave at registration (`user.id`).
    pub user_handle: Option<Vec<u8>>,
    pub counter: u32,
    /// Where the browser says the ceremony runs.
    pub origin: String,
    /// What the browser reports as the ways to reach it (`getTransports()`); none when empty.
    pub transports: Vec<&'static str>,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &serde_json::Value) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text.as_str().unwrap()).unwrap()
}

fn cbor(value: &Value) -> Vec<u8> {
    let mut bytes = Vec::new();
    ciborium::into_writer(value, &mut bytes).unwrap();
    bytes
}

/// ASN.1 DER of an ECDSA signature from its fixed-size `r || s`.
fn der_signature(fixed: &[u8]) -> Vec<u8> {
    let integer = |half: &[u8]| {
        let start = half.iter().position(|byte| *byte != 0).unwrap_or(half.len() - 1);
        let mut body = half[start..].to_vec();
        if body[0] & 0x80 != 0 {
            body.insert(0, 0);
        }
        let mut encoded = vec![0x02, body.len() as u8];
        encoded.extend(body);
        encoded
    };
    let (r, s) = fixed.split_at(32);
    let content = [integer(r), integer(s)].concat();
    let mut der = vec![0x30, content.len() as u8];
    der.extend(content);
    der
}

impl Authenticator {
    pub fn new(origin: &str) -> Self {
        let key = loop {
            let mut seed = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut seed);
            if let Ok(key) = SigningKey::from_slice(&seed) {
                break key;
            }
        };
        let mut credential_id = vec![0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut credential_id);
        Self {
            key,
            credential_id,
            user_handle: None,
            counter: 0,
            origin: origin.to_owned(),
            transports: Vec::new(),
        }
    }

    fn client_data(&self, kind: &str, challenge: &serde_json::Value) -> Vec<u8> {
        json!({
            "type": kind,
            "challenge": challenge,
            "origin": self.origin,
            "crossOrigin": false,
        })
        .to_string()
        .into_bytes()
    }

    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.verifying_key().to_sec1_point(false);
        let bytes = point.as_bytes();
        cbor(&Value::Map(vec![
            (Value::Integer(1.into()), Value::Integer(2.into())),
            (Value::Integer(3.into()), Value::Integer((-7).into())),
            (Value::Integer((-1).into()), Value::Integer(1.into())),
            (Value::Integer((-2).into()), Value::Bytes(bytes[1..33].to_vec())),
            (Value::Integer((-3).into()), Value::Bytes(bytes[33..65].to_vec())),
        ]))
    }

    /// Answer `navigator.credentials.create({publicKey})` given the server's options
    /// (`{"publicKey": …}`).
    pub fn register(&mut self, options: &serde_json::Value) -> serde_json::Value {
        let public_key = &options["publicKey"];
        let rp_id = public_key["rp"]["id"].as_str().unwrap();
        self.user_handle = Some(unb64(&public_key["user"]["id"]));
        let client_data = self.client_data("webauthn.create", &public_key["challenge"]);

        let mut authenticator_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        authenticator_data.push(FLAGS | ATTESTED);
        authenticator_data.extend(self.counter.to_be_bytes());
        authenticator_data.extend([0u8; 16]); // AAGUID: none
        authenticator_data.extend((self.credential_id.len() as u16).to_be_bytes());
        authenticator_data.extend(&self.credential_id);
        authenticator_data.extend(self.cose_key());
        let attestation = cbor(&Value::Map(vec![
            (Value::Text("fmt".into()), Value::Text("none".into())),
            (Value::Text("attStmt".into()), Value::Map(Vec::new())),
            (Value::Text("authData".into()), Value::Bytes(authenticator_data)),
        ]));
        let mut credential = json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "attestationObject": b64(&attestation),
                "clientDataJSON": b64(&client_data),
            },
            "clientExtensionResults": {},
        });
        if !self.transports.is_empty() {
            credential["response"]["transports"] = json!(self.transports);
        }
        credential
    }

    /// Answer `navigator.credentials.get({publicKey})`; the counter moves forward first.
    pub fn assert(&mut self, options: &serde_json::Value) -> serde_json::Value {
        let public_key = &options["publicKey"];
        let rp_id = public_key["rpId"].as_str().unwrap();
        self.counter += 1;
        let client_data = self.client_data("webauthn.get", &public_key["challenge"]);
        let mut authenticator_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        authenticator_data.push(FLAGS);
        authenticator_data.extend(self.counter.to_be_bytes());
        let signed = [authenticator_data.clone(), Sha256::digest(&client_data).to_vec()].concat();
        let signature: p256::ecdsa::Signature = self.key.sign(&signed);
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "authenticatorData": b64(&authenticator_data),
                "clientDataJSON": b64(&client_data),
                "signature": b64(&der_signature(&signature.to_bytes())),
                "userHandle": self.user_handle.as_deref().map(b64),
            },
            "clientExtensionResults": {},
        })
    }
}

/// Flip one bit of a credential's signature.
pub fn tamper_signature(credential: &mut serde_json::Value) {
    let mut signature = unb64(&credential["response"]["signature"]);
    let last = signature.len() - 1;
    signature[last] ^= 0x01;
    credential["response"]["signature"] = b64(&signature).into();
}
