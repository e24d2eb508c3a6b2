//! Webhooks over HTTP(S), safe against server-side request forgery: the target's host is
//! resolved here, every address it resolves to is checked, and the request goes to the
//! checked addresses only (no second lookup an attacker's DNS could answer differently).
//! Loopback, private, link-local, shared (CGNAT), multicast, unspecified and other reserved
//! addresses are refused unless the operator allows private targets. Redirects are never
//! followed, a request has a timeout, and at most a few KiB of an answer are read.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use app::{WebhookFuture, WebhookRequest, WebhookTransport};

/// The most bytes of an answer read before the connection is dropped.
const MAX_ANSWER_BYTES: usize = 16 * 1024;

pub struct HttpWebhookTransport {
    allow_private_targets: bool,
    timeout: Duration,
}

impl HttpWebhookTransport {
    pub fn new(allow_private_targets: bool, timeout: Duration) -> Self {
        Self { allow_private_targets, timeout }
    }

    /// The addresses to connect to, all checked; or why the target is refused.
    async fn checked_addresses(&self, url: &url::Url) -> Result<Vec<SocketAddr>, String> {
        let port = url.port_or_known_default().ok_or("the webhook URL has no port")?;
        let addresses: Vec<SocketAddr> = match url.host() {
            Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
            Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
            Some(url::Host::Domain(name)) => {
                let lookup = tokio::net::lookup_host((name, port));
                tokio::time::timeout(self.timeout, lookup)
                    .await
                    .map_err(|_| format!("resolving {name} timed out"))?
                    .map_err(|_| format!("cannot resolve {name}"))?
                    .collect()
            }
            None => return Err("the webhook URL has no host".into()),
        };
        if addresses.is_empty() {
            return Err("the webhook host resolves to no address".into());
        }
        if !self.allow_private_targets
            && let Some(refused) = addresses.iter().find(|address| is_forbidden(address.ip()))
        {
            return Err(format!(
                "refused: the webhook host resolves to {}, a loopback, private or reserved \
                 address (see notifications.allow_private_targets)",
                refused.ip()
            ));
        }
        Ok(addresses)
    }

    async fn deliver(&self, request: WebhookRequest) -> Result<(), String> {
        let url = url::Url::parse(&request.url).map_err(|_| "the webhook URL does not parse")?;
        let addresses = self.checked_addresses(&url).await?;
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(self.timeout)
            .user_agent(concat!("Rampart/", env!("CARGO_PKG_VERSION")));
        if let Some(url::Host::Domain(name)) = url.host() {
            builder = builder.resolve_to_addrs(name, &addresses);
        }
        let client = builder.build().map_err(|error| describe(&error))?;
        let mut post = client.post(url).body(request.body);
        for (name, value) in &request.headers {
            post = post.header(name, value);
        }
        let mut answer = post.send().await.map_err(|error| describe(&error))?;
        let status = answer.status();
        let mut n_read = 0;
        while n_read < MAX_ANSWER_BYTES {
            match answer.chunk().await {
                Ok(Some(chunk)) => n_read += chunk.len(),
                Ok(None) | Err(_) => break,
            }
        }
        if status.is_success() {
            Ok(())
        } else if status.is_redirection() {
            Err(format!("the receiver answered {} (redirects are not followed)", status.as_u16()))
        } else {
            Err(format!("the receiver answered {}", status.as_u16()))
        }
    }
}

impl WebhookTransport for HttpWebhookTransport {
    fn post(&self, request: WebhookRequest) -> WebhookFuture<'_> {
        Box::pin(self.deliver(request))
    }
}

/// Why a request failed, without its URL (whose path may be a credential).
fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_builder() {
        "could not build the request"
    } else if error.is_body() || error.is_decode() {
        "the answer broke off"
    } else {
        "the request failed"
    };
    let mut detail = String::new();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        detail = cause.to_string();
        source = cause.source();
    }
    if detail.is_empty() { kind.to_owned() } else { format!("{kind}: {detail}") }
}

/// Addresses a webhook must not reach: this machine, private and shared networks, link-local
/// (cloud metadata services live there), multicast, unspecified and reserved ranges.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_forbidden_v4(ip),
        IpAddr::V6(ip) => {
            if let Some(mapped) = ip.to_ipv4_mapped() {
                return is_forbidden_v4(mapped);
            }
            let segments = ip.segments();
            // NAT64 (64:ff9b::/96) reaches the IPv4 address it embeds.
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = segments[6].to_be_bytes();
                let [c, d] = segments[7].to_be_bytes();
                return is_forbidden_v4(Ipv4Addr::new(a, b, c, d));
            }
            ip.is_loopback()
                || ip.is_unspecified()
                || ip.is_multicast()
                // Unique local fc00::/7, link-local fe80::/10, site-local fec0::/10.
                || (segments[0] & 0xfe00) == 0xfc00
                || (segments[0] & 0xffc0) == 0xfe80
                || (segments[0] & 0xffc0) == 0xfec0
                // IPv4-compatible ::/96 (deprecated) and documentation 2001:db8::/32.
                || segments[..6] == [0, 0, 0, 0, 0, 0]
                || segments[..2] == [0x2001, 0x0db8]
        }
    }
}

fn is_forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        // "This network" 0.0.0.0/8, shared address space (CGNAT) 100.64.0.0/10, IETF
        // protocol assignments 192.0.0.0/24, benchmarking 198.18.0.0/15, reserved 240.0.0.0/4.
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(url: &str) -> WebhookRequest {
        WebhookRequest { url: url.into(), headers: Vec::new(), body: b"{}".to_vec() }
    }

    #[test]
    fn reserved_addresses_are_forbidden_and_public_ones_not() {
        for forbidden in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "198.18.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
        ] {
            assert!(is_forbidden(forbidden.parse().unwrap()), "{forbidden}");
        }
        for public in
            ["93.184.215.14", "1.1.1.1", "100.128.0.1", "2606:4700::1111", "::ffff:1.1.1.1"]
        {
            assert!(!is_forbidden(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn private_targets_are_refused_before_any_connection() {
        let transport = HttpWebhookTransport::new(false, Duration::from_secs(2));
        for url in [
            "https://127.0.0.1/hook",
            "https://10.0.0.8:8443/hook",
            "http://169.254.169.254/latest/meta-data/",
            "https://[::1]/hook",
            "https://localhost/hook",
        ] {
            let error = transport.post(request(url)).await.unwrap_err();
            assert!(error.starts_with("refused:"), "{url}: {error}");
            assert!(!error.contains("/hook") && !error.contains("meta-data"), "{error}");
        }
    }

    #[tokio::test]
    async fn with_private_targets_allowed_a_redirect_is_not_followed() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buffer = vec![0u8; 4096];
            let _ = socket.read(&mut buffer).await.unwrap();
            let answer = "HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/\r\n\
                          Content-Length: 0\r\nConnection: close\r\n\r\n";
            socket.write_all(answer.as_bytes()).await.unwrap();
        });
        let transport = HttpWebhookTransport::new(true, Duration::from_secs(5));
        let error = transport.post(request(&format!("http://{address}/hook"))).await.unwrap_err();
        assert!(error.contains("302"), "{error}");
        server.await.unwrap();
    }
}
