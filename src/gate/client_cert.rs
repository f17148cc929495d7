//! Client-certificate pinning. The fingerprint comes from the native mTLS
//! handshake (SHA-256 of the leaf's DER, optionally of its SPKI), or from a
//! header set by a TLS-terminating front proxy — believed only when the TCP
//! peer is a trusted proxy, and stripped from everyone else.

use std::collections::HashSet;
use std::path::Path;

use http::{HeaderMap, HeaderName, StatusCode};
use sha2::{Digest, Sha256};

use super::Refusal;
use crate::config::{ClientCertSettings, GateMode};
use crate::problem::Problem;

/// SHA-256 fingerprints of a verified client certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertFingerprints {
    /// SHA-256 of the leaf certificate's DER.
    pub leaf: [u8; 32],
    /// SHA-256 of the leaf's SubjectPublicKeyInfo, when it parsed.
    pub spki: Option<[u8; 32]>,
}

impl CertFingerprints {
    /// Fingerprints of a DER certificate.
    pub fn of(der: &[u8]) -> CertFingerprints {
        let leaf: [u8; 32] = Sha256::digest(der).into();
        let cert = rustls_pki_types::CertificateDer::from(der);
        let spki = webpki::EndEntityCert::try_from(&cert)
            .ok()
            .map(|c| Sha256::digest(c.subject_public_key_info().as_ref()).into());
        CertFingerprints { leaf, spki }
    }
}

/// The pinning gate.
#[derive(Debug, Clone)]
pub struct ClientCertGate {
    mode: GateMode,
    /// `None`: no pin file configured, or it is unreadable / empty.
    pins: Option<HashSet<[u8; 32]>>,
    pin_spki: bool,
    header: HeaderName,
}

/// What the gate concluded when it let a request through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertVerdict {
    /// Gate off.
    Skipped,
    /// A pinned certificate.
    Pinned,
    /// Audit mode: this violation was recorded and passed.
    Violation(&'static str),
}

impl ClientCertGate {
    /// Builds the gate; a malformed pin file is a configuration error naming
    /// the line. A missing file is not: enforce mode then answers 503.
    pub fn new(settings: &ClientCertSettings) -> Result<ClientCertGate, String> {
        let header = HeaderName::from_bytes(settings.header.to_ascii_lowercase().as_bytes())
            .map_err(|_| {
                format!(
                    "gates.client_cert.header `{}` is not a header name",
                    settings.header
                )
            })?;
        let pins = match &settings.pin_file {
            Some(path) if path.exists() => {
                let pins = load_pins(path)?;
                (!pins.is_empty()).then_some(pins)
            }
            _ => None,
        };
        Ok(ClientCertGate {
            mode: settings.mode,
            pins,
            pin_spki: settings.pin_spki,
            header,
        })
    }

    /// The fingerprint header name.
    pub fn header(&self) -> &HeaderName {
        &self.header
    }

    /// Checks the request. `native` comes from the mTLS handshake;
    /// `trusted_peer` says whether the fingerprint header may be believed.
    /// The header is removed from requests of untrusted peers.
    pub fn check(
        &self,
        native: Option<&CertFingerprints>,
        headers: &mut HeaderMap,
        trusted_peer: bool,
    ) -> Result<CertVerdict, Refusal> {
        let from_header = if trusted_peer {
            headers
                .get(&self.header)
                .and_then(|v| v.to_str().ok())
                .map(parse_fingerprint)
        } else {
            headers.remove(&self.header);
            None
        };
        if self.mode == GateMode::Off {
            return Ok(CertVerdict::Skipped);
        }
        let result = self.evaluate(native, from_header);
        match (result, self.mode) {
            (Ok(()), _) => Ok(CertVerdict::Pinned),
            (Err(problem), GateMode::Audit) => Ok(CertVerdict::Violation(problem.code)),
            (Err(problem), _) => Err(Refusal::new("client_cert", problem)),
        }
    }

    fn evaluate(
        &self,
        native: Option<&CertFingerprints>,
        from_header: Option<Option<[u8; 32]>>,
    ) -> Result<(), Problem> {
        let Some(pins) = &self.pins else {
            return Err(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "client_cert_fingerprints_not_configured",
                "client certificates are required but no pins are loaded; set gates.client_cert.pin_file to a non-empty pin file",
            ));
        };
        let required = || {
            Problem::new(
                StatusCode::UNAUTHORIZED,
                "client_cert_required",
                "present a client certificate (mutual TLS) whose fingerprint is pinned",
            )
        };
        let (candidates, shown) = match (native, from_header) {
            (Some(fp), _) => {
                let spki = if self.pin_spki { fp.spki } else { None };
                ([Some(fp.leaf), spki], fp.leaf)
            }
            (None, Some(Some(fp))) => ([Some(fp), None], fp),
            (None, Some(None)) | (None, None) => return Err(required()),
        };
        if candidates.iter().flatten().any(|fp| pins.contains(fp)) {
            return Ok(());
        }
        Err(Problem::new(
            StatusCode::FORBIDDEN,
            "client_cert_denied",
            "this client certificate is not pinned; add its SHA-256 fingerprint to the pin file",
        )
        .with("fingerprint_prefix", hex::encode(&shown[..8]).into()))
    }
}

/// Normalises a fingerprint: case-insensitive, colons and spaces ignored.
fn parse_fingerprint(text: &str) -> Option<[u8; 32]> {
    let cleaned: String = text
        .trim()
        .chars()
        .filter(|c| *c != ':')
        .collect::<String>()
        .to_ascii_lowercase();
    if cleaned.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(&cleaned, &mut out).ok()?;
    Some(out)
}

/// Reads a pin file: entries separated by commas or newlines, `#` starts a
/// comment; anything else than 64 hex digits is an error naming the line.
pub fn load_pins(path: &Path) -> Result<HashSet<[u8; 32]>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("gates.client_cert.pin_file {}: {e}", path.display()))?;
    let mut pins = HashSet::new();
    for (n, line) in text.lines().enumerate() {
        let content = line.split('#').next().unwrap_or("");
        for entry in content.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let pin = parse_fingerprint(entry).ok_or_else(|| {
                format!(
                    "{} line {}: `{entry}` is not a SHA-256 fingerprint (64 hex digits, colons allowed)",
                    path.display(),
                    n + 1
                )
            })?;
            pins.insert(pin);
        }
    }
    Ok(pins)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_files_allow_comments_colons_and_case() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pins");
        let a = "AB".repeat(32);
        let b = (0..32).map(|_| "cd").collect::<Vec<_>>().join(":");
        std::fs::write(&path, format!("# pinned clients\n{a}, {b} # two\n\n")).unwrap();
        let pins = load_pins(&path).unwrap();
        assert_eq!(pins.len(), 2);
        assert!(pins.contains(&[0xab; 32]));
        assert!(pins.contains(&[0xcd; 32]));
    }

    #[test]
    fn a_bad_entry_names_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pins");
        std::fs::write(&path, format!("{}\nnot-a-pin\n", "ab".repeat(32))).unwrap();
        let err = load_pins(&path).unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn header_from_untrusted_peer_is_stripped_and_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pins");
        std::fs::write(&path, "ab".repeat(32)).unwrap();
        let gate = ClientCertGate::new(&ClientCertSettings {
            mode: GateMode::Enforce,
            pin_file: Some(path),
            ..ClientCertSettings::default()
        })
        .unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-ssl-client-sha256", "ab".repeat(32).parse().unwrap());
        let refused = gate.check(None, &mut headers, false).unwrap_err();
        assert_eq!(refused.problem.code, "client_cert_required");
        assert!(headers.is_empty(), "spoofed header removed");
        let mut headers = HeaderMap::new();
        headers.insert("x-ssl-client-sha256", "AB".repeat(32).parse().unwrap());
        assert_eq!(
            gate.check(None, &mut headers, true).unwrap(),
            CertVerdict::Pinned
        );
    }
}
