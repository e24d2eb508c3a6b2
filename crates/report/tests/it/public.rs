//! Trust page, changes page and Atom feed.

use proptest::prelude::*;
use report::public::*;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::{date, datetime};

const NOW: OffsetDateTime = datetime!(2026-06-15 12:00 UTC);
const ATOM: &str = "http://www.w3.org/2005/Atom";

fn trust_page() -> TrustPage {
    TrustPage {
        organisation: "Example Cloud <b>".to_owned(),
        certifications: vec![
            Certification {
                name: "ISO/IEC 27001:2022".to_owned(),
                issuer: "Cert & Co".to_owned(),
                scope: "Hosting <and> operations".to_owned(),
                valid_until: date!(2027 - 03 - 01),
                certificate_url: Some("https://example.org/iso.pdf".to_owned()),
            },
            Certification {
                name: "Old scheme".to_owned(),
                issuer: "Someone".to_owned(),
                scope: String::new(),
                valid_until: date!(2026 - 06 - 14),
                certificate_url: None,
            },
        ],
        sub_processors: vec![PublicSubProcessor {
            name: "<script>alert(1)</script>".to_owned(),
            purpose: "Mail delivery".to_owned(),
            location: "France".to_owned(),
            data_categories: vec!["e-mail addresses".to_owned()],
            transfer_mechanism: "adequacy".to_owned(),
        }],
        security_contact: SecurityContact {
            email: Some("security@example.org".to_owned()),
            security_txt_url: "https://example.org/.well-known/security.txt".to_owned(),
        },
        changes_page_url: "/changes".to_owned(),
        changes_feed_url: "/changes.atom".to_owned(),
    }
}

fn entry(id: &str, title: &str, published: OffsetDateTime, updated: OffsetDateTime) -> ChangeEntry {
    ChangeEntry {
        id: id.to_owned(),
        title: title.to_owned(),
        summary: format!("About {title}"),
        published,
        updated,
        url: None,
    }
}

fn feed() -> ChangeFeed {
    ChangeFeed {
        id: "urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6".to_owned(),
        title: "Changes & notices".to_owned(),
        author_name: "Example Cloud".to_owned(),
        page_url: "https://example.org/changes".to_owned(),
        feed_url: "https://example.org/changes.atom".to_owned(),
        entries: vec![
            entry(
                "tag:example.org,2026:change-1",
                "TLS 1.0 <removed>",
                datetime!(2026-05-01 09:00 UTC),
                datetime!(2026-05-01 09:00 UTC),
            ),
            entry(
                "tag:example.org,2026:change-2",
                "New region",
                datetime!(2026-06-01 09:00 UTC),
                datetime!(2026-06-10 17:30 +02:00),
            ),
        ],
    }
}

#[test]
fn the_trust_page_lists_what_is_held_and_escapes_everything() {
    let html = render_trust_page(&trust_page(), NOW).unwrap();
    assert!(html.contains("ISO/IEC 27001:2022"));
    assert!(html.contains("Cert &amp; Co"));
    assert!(!html.contains("Old scheme"), "an expired certification is not listed");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains("<script") && !html.contains("<b>"));
    assert!(html.contains("href=\"mailto:security@example.org\""));
    assert!(html.contains("href=\"https://example.org/.well-known/security.txt\""));
    assert!(html.contains("href=\"/changes\""));
    assert!(html.contains("2026-06-15T12:00:00Z"));
}

#[test]
fn the_trust_page_refuses_dangerous_links_and_bad_contacts() {
    let mut page = trust_page();
    page.certifications[0].certificate_url = Some("javascript:alert(1)".to_owned());
    let error = render_trust_page(&page, NOW).unwrap_err().to_string();
    assert!(error.contains("certifications[0].certificate_url"), "{error}");
    let mut page = trust_page();
    page.changes_page_url = "//evil.example/".to_owned();
    assert!(render_trust_page(&page, NOW).unwrap_err().to_string().contains("changes_page_url"));
    let mut page = trust_page();
    page.security_contact.email = Some("security@example.org\" onclick=\"x".to_owned());
    assert!(
        render_trust_page(&page, NOW).unwrap_err().to_string().contains("security_contact.email")
    );
}

#[test]
fn the_atom_feed_is_well_formed_rfc_4287() {
    let atom = render_atom_feed(&feed(), NOW).unwrap();
    let document = roxmltree::Document::parse(&atom).unwrap();
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "feed");
    assert_eq!(root.tag_name().namespace(), Some(ATOM));
    let child = |node: roxmltree::Node<'_, '_>, name: &str| -> Vec<String> {
        node.children()
            .filter(|child| {
                child.tag_name().name() == name && child.tag_name().namespace() == Some(ATOM)
            })
            .map(|child| child.text().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(child(root, "id"), ["urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6"]);
    assert_eq!(child(root, "title"), ["Changes & notices"]);
    // The feed's updated is the latest entry's.
    assert_eq!(child(root, "updated"), ["2026-06-10T17:30:00+02:00"]);
    assert!(
        root.children()
            .any(|node| node.tag_name().name() == "link" && node.attribute("rel") == Some("self"))
    );
    let entries: Vec<_> =
        root.children().filter(|node| node.tag_name().name() == "entry").collect();
    assert_eq!(entries.len(), 2);
    // Newest first; every entry has one id, title, updated, and its times parse as RFC 3339.
    assert_eq!(child(entries[0], "id"), ["tag:example.org,2026:change-2"]);
    assert_eq!(child(entries[1], "title"), ["TLS 1.0 <removed>"]);
    for entry in entries {
        assert_eq!(child(entry, "id").len(), 1);
        assert_eq!(child(entry, "title").len(), 1);
        for field in ["updated", "published"] {
            let value = child(entry, field);
            assert_eq!(value.len(), 1);
            OffsetDateTime::parse(&value[0], &Rfc3339).unwrap();
        }
    }
}

#[test]
fn an_empty_feed_is_still_valid() {
    let empty = ChangeFeed { entries: Vec::new(), ..feed() };
    let atom = render_atom_feed(&empty, NOW).unwrap();
    let document = roxmltree::Document::parse(&atom).unwrap();
    let updated = document.descendants().find(|node| node.tag_name().name() == "updated").unwrap();
    assert_eq!(updated.text(), Some("2026-06-15T12:00:00Z"));
    assert!(render_changes_page(&empty).unwrap().contains("No customer-impacting change"));
}

#[test]
fn the_changes_page_lists_newest_first_escaped() {
    let html = render_changes_page(&feed()).unwrap();
    let new_region = html.find("New region").unwrap();
    let tls = html.find("TLS 1.0 &lt;removed&gt;").unwrap();
    assert!(new_region < tls);
    assert!(html.contains("href=\"https://example.org/changes.atom\""));
}

#[test]
fn feeds_with_bad_ids_or_times_are_refused_with_the_field() {
    let mut bad = feed();
    bad.entries[1].id = "not an iri".to_owned();
    assert!(render_atom_feed(&bad, NOW).unwrap_err().to_string().contains("entries[1].id"));
    let mut duplicate = feed();
    duplicate.entries[1].id = duplicate.entries[0].id.clone();
    assert!(render_atom_feed(&duplicate, NOW).unwrap_err().to_string().contains("used twice"));
    let mut backwards = feed();
    backwards.entries[0].updated = datetime!(2026-04-01 00:00 UTC);
    assert!(
        render_changes_page(&backwards).unwrap_err().to_string().contains("entries[0].updated")
    );
    let mut relative_id = feed();
    relative_id.id = "/changes".to_owned();
    assert!(render_atom_feed(&relative_id, NOW).unwrap_err().to_string().contains("feed.id"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_titles_and_summaries_give_well_formed_xml(titles in prop::collection::vec((".{1,30}", ".{0,60}"), 0..6)) {
        let mut feed = feed();
        feed.entries = titles
            .iter()
            .enumerate()
            .filter(|(_, (title, _))| !title.trim().is_empty())
            .map(|(index, (title, summary))| ChangeEntry { summary: summary.clone(), ..entry(&format!("urn:example:{index}"), title, NOW, NOW) })
            .collect();
        let atom = render_atom_feed(&feed, NOW).unwrap();
        let document = roxmltree::Document::parse(&atom);
        prop_assert!(document.is_ok(), "{:?}", document.err());
        let document = document.unwrap();
        prop_assert_eq!(document.root_element().children().filter(|node| node.tag_name().name() == "entry").count(), feed.entries.len());
        let html = render_changes_page(&feed).unwrap();
        prop_assert_eq!(html.matches("<article>").count(), feed.entries.len());
    }
}
