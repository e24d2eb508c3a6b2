//! Public pages: the trust page (certifications, sub-processors, security contact, link to the
//! changes), the changes page, and its Atom feed (RFC 4287). Plain data in; escaped HTML and
//! XML out. Links are checked before they are written: only `https://` URLs, site-relative
//! paths and (for the contact) `mailto:` are ever emitted, so stored data cannot smuggle a
//! `javascript:` link onto a public page.

use std::fmt::Write as _;

use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

use crate::error::ReportError;
use crate::escape::{html as esc, xml};

/// A certification the organisation holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certification {
    pub name: String,
    /// The certification body.
    pub issuer: String,
    /// What the certificate covers; empty when not stated.
    pub scope: String,
    pub valid_until: Date,
    /// Where the certificate can be seen, if public.
    pub certificate_url: Option<String>,
}

/// A sub-processor as customers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicSubProcessor {
    pub name: String,
    pub purpose: String,
    /// Where the data is processed (countries).
    pub location: String,
    /// The categories of data it processes.
    pub data_categories: Vec<String>,
    /// The safeguard for transfers outside the EEA (`adequacy`, standard contractual clauses…).
    pub transfer_mechanism: String,
}

/// How to report a vulnerability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityContact {
    /// An address to write to; when absent the page points to security.txt only.
    pub email: Option<String>,
    pub security_txt_url: String,
}

/// Everything the trust page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustPage {
    pub organisation: String,
    pub certifications: Vec<Certification>,
    pub sub_processors: Vec<PublicSubProcessor>,
    pub security_contact: SecurityContact,
    pub changes_page_url: String,
    pub changes_feed_url: String,
}

/// A customer-impacting change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeEntry {
    /// Permanent, unique, absolute IRI (`urn:uuid:…` or `tag:…` are good choices).
    pub id: String,
    pub title: String,
    pub summary: String,
    pub published: OffsetDateTime,
    /// Last significant modification; not before `published`.
    pub updated: OffsetDateTime,
    /// A page with the details, if any.
    pub url: Option<String>,
}

/// The changes page and its feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeFeed {
    /// Permanent absolute IRI of the feed.
    pub id: String,
    pub title: String,
    pub author_name: String,
    /// The HTML changes page.
    pub page_url: String,
    /// The feed's own address.
    pub feed_url: String,
    pub entries: Vec<ChangeEntry>,
}

const PAGE_STYLE: &str = "body{font-family:Helvetica,Arial,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a;line-height:1.45}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;border-bottom:1px solid #ccc;padding:.3rem}";

fn public_error(location: impl Into<String>, problem: impl Into<String>) -> ReportError {
    ReportError::Public { location: location.into(), problem: problem.into() }
}

fn require_text(value: &str, location: &str) -> Result<(), ReportError> {
    if value.trim().is_empty() {
        return Err(public_error(location, "is blank"));
    }
    Ok(())
}

/// An `https://` URL with a host, or a site-relative path (`/…`, not `//…`), with no space,
/// control character or quote.
fn require_link(url: &str, location: &str) -> Result<(), ReportError> {
    let well_formed = url.strip_prefix("https://").is_some_and(|rest| {
        rest.split(['/', '?', '#']).next().is_some_and(|host| !host.is_empty())
    }) || (url.starts_with('/') && !url.starts_with("//"));
    let clean = !url.chars().any(|c| {
        c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '<' | '>' | '\\' | '`')
    });
    if well_formed && clean {
        Ok(())
    } else {
        Err(public_error(
            location,
            format!("{url:?} is not an https:// URL or a site-relative path"),
        ))
    }
}

/// An absolute IRI (RFC 3987): a scheme, a colon, and no space, control character or
/// character IRIs exclude.
fn require_iri(iri: &str, location: &str) -> Result<(), ReportError> {
    let scheme_ok = iri.split_once(':').is_some_and(|(scheme, rest)| {
        let mut characters = scheme.chars();
        characters.next().is_some_and(|first| first.is_ascii_alphabetic())
            && characters.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            && !rest.is_empty()
    });
    let characters_ok = !iri.chars().any(|c| {
        c.is_whitespace()
            || c.is_control()
            || matches!(c, '<' | '>' | '"' | '{' | '}' | '|' | '\\' | '^' | '`')
    });
    if scheme_ok && characters_ok {
        Ok(())
    } else {
        Err(public_error(location, format!("{iri:?} is not an absolute IRI")))
    }
}

/// One `@`, something on each side, a dot in the domain, nothing that needs quoting.
fn require_email(email: &str, location: &str) -> Result<(), ReportError> {
    let valid = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
    }) && email.chars().all(|c| {
        c.is_ascii_graphic()
            && !matches!(c, '"' | '\'' | '<' | '>' | '\\' | '(' | ')' | ',' | ';' | ':')
    });
    if valid {
        Ok(())
    } else {
        Err(public_error(location, format!("{email:?} is not an e-mail address")))
    }
}

fn timestamp(moment: OffsetDateTime, location: &str) -> Result<String, ReportError> {
    moment
        .format(&Rfc3339)
        .map_err(|error| public_error(location, format!("cannot be written as RFC 3339: {error}")))
}

/// Renders the trust page. Certifications past their validity on `generated_at`'s date are
/// left out: the page lists only what is held.
pub fn render_trust_page(
    page: &TrustPage,
    generated_at: OffsetDateTime,
) -> Result<String, ReportError> {
    require_text(&page.organisation, "organisation")?;
    if let Some(email) = &page.security_contact.email {
        require_email(email, "security_contact.email")?;
    }
    require_link(&page.security_contact.security_txt_url, "security_contact.security_txt_url")?;
    require_link(&page.changes_page_url, "changes_page_url")?;
    require_link(&page.changes_feed_url, "changes_feed_url")?;
    for (index, certification) in page.certifications.iter().enumerate() {
        require_text(&certification.name, &format!("certifications[{index}].name"))?;
        if let Some(url) = &certification.certificate_url {
            require_link(url, &format!("certifications[{index}].certificate_url"))?;
        }
    }
    for (index, sub_processor) in page.sub_processors.iter().enumerate() {
        require_text(&sub_processor.name, &format!("sub_processors[{index}].name"))?;
    }
    let generated = timestamp(generated_at, "generated_at")?;
    let today = generated_at.date();

    let organisation = esc(&page.organisation);
    let mut out = String::with_capacity(8 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <title>{organisation}: security and trust</title>\n<style>{PAGE_STYLE}</style>\n\
         <link rel=\"alternate\" type=\"application/atom+xml\" title=\"Changes\" href=\"{}\">\n</head>\n<body>\n\
         <h1>{organisation}: security and trust</h1>\n",
        esc(&page.changes_feed_url)
    );

    out.push_str("<section id=\"certifications\">\n<h2>Certifications</h2>\n");
    let held: Vec<&Certification> = page
        .certifications
        .iter()
        .filter(|certification| certification.valid_until >= today)
        .collect();
    if held.is_empty() {
        out.push_str("<p>No certification is currently held.</p>\n");
    } else {
        out.push_str("<ul>\n");
        for certification in held {
            let name = match &certification.certificate_url {
                Some(url) => format!("<a href=\"{}\">{}</a>", esc(url), esc(&certification.name)),
                None => esc(&certification.name),
            };
            let scope = if certification.scope.trim().is_empty() {
                String::new()
            } else {
                format!(", scope: {}", esc(&certification.scope))
            };
            let _ = writeln!(
                out,
                "<li>{name}, issued by {}{scope}, valid until <time datetime=\"{1}\">{1}</time></li>",
                esc(&certification.issuer),
                certification.valid_until
            );
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n<section id=\"sub-processors\">\n<h2>Sub-processors</h2>\n");
    out.push_str("<table>\n<thead><tr><th>Name</th><th>Purpose</th><th>Data categories</th><th>Location</th><th>Transfer mechanism</th></tr></thead>\n<tbody>\n");
    for sub_processor in &page.sub_processors {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&sub_processor.name),
            esc(&sub_processor.purpose),
            esc(&sub_processor.data_categories.join(", ")),
            esc(&sub_processor.location),
            esc(&sub_processor.transfer_mechanism)
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
    let write_to = page.security_contact.email.as_deref().map_or_else(String::new, |email| {
        let email = esc(email);
        format!("Write to <a href=\"mailto:{email}\">{email}</a>. ")
    });
    let _ = write!(
        out,
        "<section id=\"security-contact\">\n<h2>Reporting a vulnerability</h2>\n\
         <p>{write_to}Our contact policy is published in \
         <a href=\"{0}\">{0}</a>.</p>\n</section>\n\
         <section id=\"changes\">\n<h2>Changes</h2>\n<p>Customer-impacting changes are listed on the \
         <a href=\"{1}\">changes page</a> and in its <a href=\"{2}\">Atom feed</a>.</p>\n</section>\n\
         <footer><p>Generated <time datetime=\"{generated}\">{generated}</time>.</p></footer>\n</body>\n</html>\n",
        esc(&page.security_contact.security_txt_url),
        esc(&page.changes_page_url),
        esc(&page.changes_feed_url),
    );
    Ok(out)
}

/// Entries newest first, after validating the feed.
fn validated_entries(feed: &ChangeFeed) -> Result<Vec<&ChangeEntry>, ReportError> {
    require_iri(&feed.id, "feed.id")?;
    require_text(&feed.title, "feed.title")?;
    require_text(&feed.author_name, "feed.author_name")?;
    require_link(&feed.page_url, "feed.page_url")?;
    require_link(&feed.feed_url, "feed.feed_url")?;
    for (index, entry) in feed.entries.iter().enumerate() {
        let location = |field: &str| format!("entries[{index}].{field}");
        require_iri(&entry.id, &location("id"))?;
        if entry.id == feed.id || feed.entries[..index].iter().any(|earlier| earlier.id == entry.id)
        {
            return Err(public_error(location("id"), format!("{:?} is used twice", entry.id)));
        }
        require_text(&entry.title, &location("title"))?;
        if entry.updated < entry.published {
            return Err(public_error(location("updated"), "is earlier than published"));
        }
        if let Some(url) = &entry.url {
            require_link(url, &location("url"))?;
        }
    }
    let mut entries: Vec<&ChangeEntry> = feed.entries.iter().collect();
    entries.sort_by(|left, right| {
        right.updated.cmp(&left.updated).then_with(|| left.id.cmp(&right.id))
    });
    Ok(entries)
}

/// Renders the changes page, newest change first.
pub fn render_changes_page(feed: &ChangeFeed) -> Result<String, ReportError> {
    let entries = validated_entries(feed)?;
    let title = esc(&feed.title);
    let mut out = String::with_capacity(4 * 1024 + entries.len() * 512);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <title>{title}</title>\n<style>{PAGE_STYLE}</style>\n\
         <link rel=\"alternate\" type=\"application/atom+xml\" title=\"{title}\" href=\"{}\">\n</head>\n<body>\n<h1>{title}</h1>\n\
         <p><a href=\"{0}\">Subscribe to the Atom feed</a>.</p>\n",
        esc(&feed.feed_url)
    );
    if entries.is_empty() {
        out.push_str("<p>No customer-impacting change has been published.</p>\n");
    }
    for (index, entry) in entries.iter().enumerate() {
        let published = timestamp(entry.published, &format!("entries[{index}].published"))?;
        let updated = timestamp(entry.updated, &format!("entries[{index}].updated"))?;
        let heading = match &entry.url {
            Some(url) => format!("<a href=\"{}\">{}</a>", esc(url), esc(&entry.title)),
            None => esc(&entry.title),
        };
        let _ = writeln!(
            out,
            "<article>\n<h2>{heading}</h2>\n<p>Published <time datetime=\"{published}\">{published}</time>, \
             updated <time datetime=\"{updated}\">{updated}</time>.</p>\n<p>{}</p>\n</article>",
            esc(&entry.summary)
        );
    }
    out.push_str("</body>\n</html>\n");
    Ok(out)
}

/// Renders the Atom feed (RFC 4287). The feed's `updated` is the latest entry's, or
/// `generated_at` when there is no entry.
pub fn render_atom_feed(
    feed: &ChangeFeed,
    generated_at: OffsetDateTime,
) -> Result<String, ReportError> {
    let entries = validated_entries(feed)?;
    let feed_updated = match entries.first() {
        Some(latest) => timestamp(latest.updated, "entries.updated")?,
        None => timestamp(generated_at, "generated_at")?,
    };
    let mut out = String::with_capacity(1024 + entries.len() * 512);
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n\
         <id>{}</id>\n<title>{}</title>\n<updated>{feed_updated}</updated>\n<author><name>{}</name></author>\n\
         <link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>\n<link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n",
        xml(&feed.id),
        xml(&feed.title),
        xml(&feed.author_name),
        xml(&feed.feed_url),
        xml(&feed.page_url),
    );
    for (index, entry) in entries.iter().enumerate() {
        let published = timestamp(entry.published, &format!("entries[{index}].published"))?;
        let updated = timestamp(entry.updated, &format!("entries[{index}].updated"))?;
        let link = entry.url.as_ref().unwrap_or(&feed.page_url);
        let _ = write!(
            out,
            "<entry>\n<id>{}</id>\n<title>{}</title>\n<published>{published}</published>\n<updated>{updated}</updated>\n\
             <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n<summary>{}</summary>\n</entry>\n",
            xml(&entry.id),
            xml(&entry.title),
            xml(link),
            xml(&entry.summary),
        );
    }
    out.push_str("</feed>\n");
    Ok(out)
}
