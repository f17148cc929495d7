//! Data-plane TLS: rustls server configuration from PEM files, ALPN h2 and
//! http/1.1.

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The listener's TLS configuration, swapped whole when certificates are
/// reloaded; each new connection handshakes with the one current then.
pub type TlsHandle = Arc<arc_swap::ArcSwap<ServerConfig>>;

/// Client-certificate settings of the TLS listener.
#[derive(Debug, Clone, Default)]
pub struct ClientAuth<'a> {
    /// CA bundle that verifies client certificates (mTLS); `None` for none.
    pub ca_file: Option<&'a Path>,
    /// Certificates are pinned: disable session resumption, so every
    /// connection presents (and has checked) its certificate afresh.
    pub pinning: bool,
}

/// Builds the server TLS configuration from a certificate chain and key.
pub fn server_config(
    cert_file: &Path,
    key_file: &Path,
    client: &ClientAuth<'_>,
) -> Result<Arc<ServerConfig>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            format!(
                "tls.cert_file {}: {e}; expected a PEM certificate chain",
                cert_file.display()
            )
        })?;
    if certs.is_empty() {
        return Err(format!(
            "tls.cert_file {} holds no CERTIFICATE block",
            cert_file.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| {
        format!(
            "tls.key_file {}: {e}; expected a PEM private key (PKCS#8, PKCS#1 or SEC1)",
            key_file.display()
        )
    })?;
    let builder = ServerConfig::builder();
    let builder = match client.ca_file {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            let cas = CertificateDer::pem_file_iter(ca)
                .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("gates.client_cert.ca_file {}: {e}", ca.display()))?;
            for cert in cas {
                roots
                    .add(cert)
                    .map_err(|e| format!("gates.client_cert.ca_file {}: {e}", ca.display()))?;
            }
            // Clients without a certificate complete the handshake and get a
            // clear 401 `client_cert_required` from the gate instead.
            let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
                .allow_unauthenticated()
                .build()
                .map_err(|e| format!("gates.client_cert.ca_file {}: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("tls.cert_file / tls.key_file do not form a usable pair: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    if client.pinning {
        config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
    }
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinning_disables_session_resumption() {
        crate::cli::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let (cert_file, key_file) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        std::fs::write(&cert_file, cert.pem()).unwrap();
        std::fs::write(&key_file, key.serialize_pem()).unwrap();
        let build = |pinning| {
            server_config(
                &cert_file,
                &key_file,
                &ClientAuth {
                    ca_file: None,
                    pinning,
                },
            )
            .unwrap()
        };
        let open = build(false);
        assert!(open.session_storage.can_cache() && open.send_tls13_tickets > 0);
        let pinned = build(true);
        assert!(
            !pinned.session_storage.can_cache(),
            "no session cache while pinning"
        );
        assert_eq!(
            pinned.send_tls13_tickets, 0,
            "no TLS 1.3 tickets while pinning"
        );
    }
}
