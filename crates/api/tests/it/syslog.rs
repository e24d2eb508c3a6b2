//! The syslog listener on real sockets: RFC 5424 and RFC 3164 over UDP, octet-counted and
//! newline-framed TCP; garbage is counted and never stops it; messages are stored through the
//! intake and searchable like any event.

use std::sync::atomic::Ordering;
use std::time::Duration;

use app::{SyslogListener, SyslogSettings};
use axum::http::Method;
use std::io::Write as _;

use crate::harness::Harness;

#[tokio::test]
async fn udp_and_tcp_messages_are_stored_and_garbage_is_counted() {
    let harness = Harness::new().await;
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (udp_address, tcp_address) = (udp.local_addr().unwrap(), tcp.local_addr().unwrap());
    let settings = SyslogSettings {
        organization_id: harness.provider_id.parse().unwrap(),
        product: "linux".into(),
        flush_every: Duration::from_millis(50),
        ..SyslogSettings::default()
    };
    let listener = SyslogListener::start(harness.app.clone(), settings, Some(udp), Some(tcp));
    let stats = listener.stats.clone();

    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for datagram in [
        "<34>1 2026-03-01T08:30:00Z web-1 su 4242 ID47 - 'su root' failed for ada",
        "<13>Mar  1 08:31:00 web-2 sshd[22]: Failed password for bob",
        "hello, this is not syslog",
        "<999>1 - - - - - priority out of range",
    ] {
        client.send_to(datagram.as_bytes(), udp_address).unwrap();
    }
    let mut stream = std::net::TcpStream::connect(tcp_address).unwrap();
    let counted = "<38>1 2026-03-01T08:32:00Z web-3 app - - - counted";
    let framed =
        format!("{} {counted}\n<38>Mar  1 08:33:00 web-4 cron[1]: newline framed\n", counted.len());
    stream.write_all(framed.as_bytes()).unwrap();
    stream.flush().unwrap();
    drop(stream);
    // A second connection sends a broken octet count: counted, and the listener goes on.
    let mut broken = std::net::TcpStream::connect(tcp_address).unwrap();
    broken.write_all(b"12x <13>bad\n").unwrap();
    drop(broken);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while stats.stored.load(Ordering::Relaxed) < 4 || stats.garbage.load(Ordering::Relaxed) < 3 {
        assert!(tokio::time::Instant::now() < deadline, "{stats:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(stats.stored.load(Ordering::Relaxed), 4, "{stats:?}");
    assert_eq!(stats.garbage.load(Ordering::Relaxed), 3, "{stats:?}");
    assert_eq!(stats.failed.load(Ordering::Relaxed), 0);

    let provider = &harness.provider_id;
    let answer =
        harness.owner(Method::GET, &format!("/v1/organizations/{provider}/events"), None).await;
    let events = answer.body["events"].as_array().unwrap();
    assert_eq!(events.len(), 4, "{}", answer.body);
    let mut hosts: Vec<&str> =
        events.iter().map(|e| e["fields"]["hostname"].as_str().unwrap()).collect();
    hosts.sort_unstable();
    assert_eq!(hosts, vec!["web-1", "web-2", "web-3", "web-4"]);
    assert!(events.iter().all(|e| e["product"] == "linux" && e["service"] == "syslog"));
    let su = harness
        .owner(
            Method::GET,
            &format!("/v1/organizations/{provider}/events?match=app_name%3Dsu"),
            None,
        )
        .await;
    assert_eq!(su.body["events"][0]["time"], "2026-03-01T08:30:00Z", "{}", su.body);
    assert_eq!(su.body["events"][0]["fields"]["proc_id"], "4242");

    for task in listener.into_tasks() {
        task.abort();
    }
}
