//! Package URLs (purl): parsing, validation, normalisation and canonical serialisation.
//!
//! The grammar is `pkg:type/namespace/name@version?qualifiers#subpath`. Parsing follows the
//! purl specification's right-to-left algorithm; serialisation produces the canonical form
//! (lower-case type, sorted qualifiers, percent-encoding of everything except the unreserved
//! characters `A-Z a-z 0-9 . - _ ~` and `:`). Per-type rules are applied for the types Rampart
//! reads inventories of (`cargo`, `npm`, `pypi`, `deb`, `generic`, `golang`, `maven`, `github`);
//! other types are accepted with the generic rules only.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Why a package URL could not be parsed or built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PurlError {
    #[error("a package URL must start with the scheme `pkg:`")]
    MissingScheme,
    #[error("the package type is missing")]
    MissingType,
    #[error(
        "invalid package type `{0}`: only ASCII letters, digits, `.`, `+` and `-`, not starting with a digit"
    )]
    InvalidType(String),
    #[error("the package name is missing")]
    MissingName,
    #[error(
        "invalid qualifier key `{0}`: only ASCII letters, digits, `.`, `-` and `_`, not starting with a digit"
    )]
    InvalidQualifierKey(String),
    #[error("qualifier `{0}` appears more than once")]
    DuplicateQualifier(String),
    #[error("invalid percent-encoding in `{0}`")]
    InvalidPercentEncoding(String),
    #[error("a `{0}` package URL requires a namespace")]
    MissingNamespace(String),
    #[error("invalid subpath segment `{0}`")]
    InvalidSubpathSegment(String),
}

/// A parsed, normalised package URL.
///
/// Fields hold decoded text (no percent-escapes). Construct with [`PackageUrl::parse`] or
/// [`PackageUrl::new`] so that the per-type normalisation rules are always applied.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PackageUrl {
    package_type: String,
    namespace: Option<String>,
    name: String,
    version: Option<String>,
    qualifiers: BTreeMap<String, String>,
    subpath: Option<String>,
}

impl PackageUrl {
    /// Builds a package URL from its decoded components, validating and normalising them.
    ///
    /// Empty strings count as absent for the namespace, version and subpath; qualifiers with
    /// an empty value are dropped, as the specification requires.
    pub fn new(
        package_type: &str,
        namespace: Option<&str>,
        name: &str,
        version: Option<&str>,
        qualifiers: impl IntoIterator<Item = (String, String)>,
        subpath: Option<&str>,
    ) -> Result<Self, PurlError> {
        let package_type = validate_type(package_type)?;
        let mut qualifier_map = BTreeMap::new();
        for (key, value) in qualifiers {
            let key = validate_qualifier_key(&key)?;
            if value.is_empty() {
                continue;
            }
            if qualifier_map.insert(key.clone(), value).is_some() {
                return Err(PurlError::DuplicateQualifier(key));
            }
        }
        let namespace = namespace
            .map(|ns| ns.split('/').filter(|s| !s.is_empty()).collect::<Vec<_>>().join("/"))
            .filter(|ns| !ns.is_empty());
        let subpath = match subpath {
            Some(path) => normalise_subpath(path.split('/').map(|s| Ok(s.to_owned())))?,
            None => None,
        };
        let purl = PackageUrl {
            package_type,
            namespace,
            name: name.to_owned(),
            version: version.filter(|v| !v.is_empty()).map(str::to_owned),
            qualifiers: qualifier_map,
            subpath,
        };
        purl.normalised()
    }

    /// Parses a package URL string.
    pub fn parse(input: &str) -> Result<Self, PurlError> {
        // Subpath: everything after the last `#`.
        let (rest, subpath) = match input.rsplit_once('#') {
            Some((rest, sub)) => {
                let segments = sub.split('/').map(percent_decode);
                (rest, normalise_subpath(segments)?)
            }
            None => (input, None),
        };
        // Qualifiers: everything after the last `?`.
        let (rest, qualifiers) = match rest.rsplit_once('?') {
            Some((rest, query)) => {
                let mut map = BTreeMap::new();
                for pair in query.split('&').filter(|p| !p.is_empty()) {
                    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                    let key = validate_qualifier_key(key)?;
                    let value = percent_decode(value)?;
                    if value.is_empty() {
                        continue;
                    }
                    if map.insert(key.clone(), value).is_some() {
                        return Err(PurlError::DuplicateQualifier(key));
                    }
                }
                (rest, map)
            }
            None => (rest, BTreeMap::new()),
        };
        // Scheme.
        let (scheme, rest) = rest.split_once(':').ok_or(PurlError::MissingScheme)?;
        if !scheme.eq_ignore_ascii_case("pkg") {
            return Err(PurlError::MissingScheme);
        }
        // Type: the first segment once leading slashes are gone.
        let rest = rest.trim_start_matches('/');
        let (package_type, rest) = rest.split_once('/').ok_or(PurlError::MissingType)?;
        let package_type = validate_type(package_type)?;
        let rest = rest.trim_end_matches('/');
        // Version: after an `@` in the last path segment (an `@` earlier belongs to a namespace
        // such as an npm scope).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (path, version) = match rest[last_slash..].rfind('@') {
            Some(at) => {
                let at = last_slash + at;
                (&rest[..at], Some(percent_decode(&rest[at + 1..])?))
            }
            None => (rest, None),
        };
        // Name and namespace.
        let (namespace, name) = match path.rsplit_once('/') {
            Some((ns, name)) => (Some(ns), name),
            None => (None, path),
        };
        let name = percent_decode(name)?;
        let namespace = match namespace {
            Some(ns) => {
                let segments = ns
                    .split('/')
                    .filter(|s| !s.is_empty())
                    .map(percent_decode)
                    .collect::<Result<Vec<_>, _>>()?;
                Some(segments.join("/")).filter(|s| !s.is_empty())
            }
            None => None,
        };
        let purl = PackageUrl {
            package_type,
            namespace,
            name,
            version: version.filter(|v| !v.is_empty()),
            qualifiers,
            subpath,
        };
        purl.normalised()
    }

    /// Applies the per-type normalisation rules and checks the required parts.
    fn normalised(mut self) -> Result<Self, PurlError> {
        match self.package_type.as_str() {
            "pypi" => {
                self.name = self.name.to_ascii_lowercase().replace('_', "-");
            }
            "deb" | "github" | "bitbucket" => {
                self.name = self.name.to_ascii_lowercase();
                self.namespace = self.namespace.map(|ns| ns.to_ascii_lowercase());
            }
            "maven" if self.namespace.is_none() && !self.name.is_empty() => {
                return Err(PurlError::MissingNamespace(self.package_type));
            }
            _ => {}
        }
        if self.name.is_empty() {
            return Err(PurlError::MissingName);
        }
        Ok(self)
    }

    /// The package type, lower-case (`cargo`, `npm`, `pypi`, ...).
    pub fn package_type(&self) -> &str {
        &self.package_type
    }
    /// The decoded namespace (segments joined by `/`), if any.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }
    /// The decoded package name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The decoded version, if any.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }
    /// The qualifiers, keys lower-case, values decoded, sorted by key.
    pub fn qualifiers(&self) -> &BTreeMap<String, String> {
        &self.qualifiers
    }
    /// The decoded subpath (segments joined by `/`), if any.
    pub fn subpath(&self) -> Option<&str> {
        self.subpath.as_deref()
    }
    /// The same package URL with another version.
    pub fn with_version(mut self, version: Option<&str>) -> Self {
        self.version = version.filter(|v| !v.is_empty()).map(str::to_owned);
        self
    }
}

impl FromStr for PackageUrl {
    type Err = PurlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for PackageUrl {
    /// The canonical string form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pkg:{}/", self.package_type)?;
        if let Some(ns) = &self.namespace {
            for segment in ns.split('/') {
                write!(f, "{}/", percent_encode(segment))?;
            }
        }
        f.write_str(&percent_encode(&self.name))?;
        if let Some(version) = &self.version {
            write!(f, "@{}", percent_encode(version))?;
        }
        let mut separator = '?';
        for (key, value) in &self.qualifiers {
            write!(f, "{separator}{key}={}", percent_encode(value))?;
            separator = '&';
        }
        if let Some(subpath) = &self.subpath {
            f.write_str("#")?;
            for (i, segment) in subpath.split('/').enumerate() {
                if i > 0 {
                    f.write_str("/")?;
                }
                f.write_str(&percent_encode(segment))?;
            }
        }
        Ok(())
    }
}

fn validate_type(raw: &str) -> Result<String, PurlError> {
    if raw.is_empty() {
        return Err(PurlError::MissingType);
    }
    let valid_chars =
        raw.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-'));
    let starts_with_digit = raw.starts_with(|c: char| c.is_ascii_digit());
    if !valid_chars || starts_with_digit {
        return Err(PurlError::InvalidType(raw.to_owned()));
    }
    Ok(raw.to_ascii_lowercase())
}

fn validate_qualifier_key(raw: &str) -> Result<String, PurlError> {
    let valid_chars =
        raw.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if raw.is_empty() || !valid_chars || raw.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(PurlError::InvalidQualifierKey(raw.to_owned()));
    }
    Ok(raw.to_ascii_lowercase())
}

/// Drops empty, `.` and `..` segments; a segment containing `/` after decoding is invalid.
fn normalise_subpath(
    segments: impl Iterator<Item = Result<String, PurlError>>,
) -> Result<Option<String>, PurlError> {
    let mut kept = Vec::new();
    for segment in segments {
        let segment = segment?;
        if segment.is_empty() || segment == "." || segment == ".." {
            continue;
        }
        if segment.contains('/') {
            return Err(PurlError::InvalidSubpathSegment(segment));
        }
        kept.push(segment);
    }
    Ok(if kept.is_empty() { None } else { Some(kept.join("/")) })
}

/// Percent-encodes every byte except the unreserved characters and `:`.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_' | b'~' | b':') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push_str(&format!("{byte:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes; the result must be UTF-8.
pub fn percent_decode(text: &str) -> Result<String, PurlError> {
    let invalid = || PurlError::InvalidPercentEncoding(text.to_owned());
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or_else(invalid)?;
            let hex = std::str::from_utf8(hex).map_err(|_| invalid())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| invalid())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_all_parts_and_serialises_canonically() {
        let purl =
            PackageUrl::parse("pkg:NPM/%40scope/Name@1.0.0%2Bbuild?Zed=1&arch=x%2F86#/lib/./a/")
                .unwrap();
        assert_eq!(purl.package_type(), "npm");
        assert_eq!(purl.namespace(), Some("@scope"));
        assert_eq!(purl.name(), "Name");
        assert_eq!(purl.version(), Some("1.0.0+build"));
        assert_eq!(purl.qualifiers().get("zed").map(String::as_str), Some("1"));
        assert_eq!(purl.qualifiers().get("arch").map(String::as_str), Some("x/86"));
        assert_eq!(purl.subpath(), Some("lib/a"));
        assert_eq!(purl.to_string(), "pkg:npm/%40scope/Name@1.0.0%2Bbuild?arch=x%2F86&zed=1#lib/a");
    }

    #[test]
    fn rejects_malformed_escapes_and_keys() {
        assert_eq!(
            PackageUrl::parse("pkg:cargo/a%zz@1"),
            Err(PurlError::InvalidPercentEncoding("a%zz".into()))
        );
        assert!(matches!(
            PackageUrl::parse("pkg:cargo/a@1?1key=v"),
            Err(PurlError::InvalidQualifierKey(_))
        ));
        assert!(matches!(
            PackageUrl::parse("pkg:cargo/a@1?k=v&K=w"),
            Err(PurlError::DuplicateQualifier(_))
        ));
        assert_eq!(PackageUrl::parse("cargo/a@1"), Err(PurlError::MissingScheme));
        assert_eq!(
            PackageUrl::parse("pkg:maven/io@1"),
            Err(PurlError::MissingNamespace("maven".into()))
        );
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_text_never_panics(input in "\\PC{0,60}") {
            let _ = PackageUrl::parse(&input);
        }

        #[test]
        fn canonical_form_is_a_fixed_point(
            ty in "[a-z][a-z0-9.+-]{0,8}",
            ns in proptest::option::of("[ -~]{1,12}"),
            name in "[ -~]{1,12}",
            version in proptest::option::of("[ -~]{1,12}"),
            qualifier in proptest::option::of(("[a-z][a-z0-9._-]{0,6}", "[ -~]{1,10}")),
            subpath in proptest::option::of("[a-z]{1,5}(/[a-z]{1,5}){0,2}"),
        ) {
            let built = PackageUrl::new(
                &ty, ns.as_deref(), &name, version.as_deref(),
                qualifier.into_iter(), subpath.as_deref(),
            );
            if let Ok(built) = built {
                let text = built.to_string();
                let reparsed = PackageUrl::parse(&text).unwrap();
                prop_assert_eq!(&reparsed, &built);
                prop_assert_eq!(reparsed.to_string(), text);
            }
        }
    }
}
