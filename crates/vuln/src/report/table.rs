//! A plain-text table for terminals.

use super::Finding;

const SUMMARY_WIDTH: usize = 60;

/// One row per finding: severity, id, package, version, fixed versions, summary. Rows are
/// sorted by severity (most severe first), then package and id.
pub fn render_table(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return "No vulnerabilities found.\n".to_owned();
    }
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.component.name.cmp(&b.component.name))
            .then_with(|| a.id.cmp(&b.id))
    });
    let header = ["SEVERITY", "ID", "PACKAGE", "VERSION", "FIXED", "SUMMARY"];
    let rows: Vec<[String; 6]> = sorted
        .iter()
        .map(|f| {
            let severity = match &f.informational {
                Some(kind) => kind.as_str().to_owned(),
                None => f.severity.to_string(),
            };
            [
                severity,
                f.id.clone(),
                f.component.name.clone(),
                f.component.version.clone(),
                if f.fixed_versions.is_empty() {
                    "-".to_owned()
                } else {
                    f.fixed_versions.join(", ")
                },
                shorten(&f.summary),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut push_row = |cells: &[String]| {
        let line: Vec<String> = cells.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    };
    push_row(&header.map(str::to_owned));
    for row in &rows {
        push_row(row);
    }
    let vulnerabilities = findings.iter().filter(|f| !f.is_informational()).count();
    out.push_str(&format!(
        "{vulnerabilities} vulnerabilities, {} informational warnings\n",
        findings.len() - vulnerabilities
    ));
    out
}

fn shorten(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= SUMMARY_WIDTH {
        one_line
    } else {
        let cut: String = one_line.chars().take(SUMMARY_WIDTH - 3).collect();
        format!("{cut}...")
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::finding;
    use super::*;
    use crate::advisory::Informational;
    use crate::cvss::Severity;

    #[test]
    fn most_severe_first_with_aligned_columns_and_counts() {
        let findings = vec![
            finding("LOW-1", Severity::Low, None),
            finding("CRIT-1", Severity::Critical, None),
            finding("INFO-1", Severity::Unknown, Some(Informational::Unmaintained)),
        ];
        let table = render_table(&findings);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("SEVERITY"));
        let first_cells =
            |line: &str| line.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
        assert_eq!(first_cells(lines[1]), "critical CRIT-1", "{table}");
        assert_eq!(first_cells(lines[2]), "low LOW-1", "{table}");
        assert_eq!(first_cells(lines[3]), "unmaintained INFO-1", "{table}");
        let id_column = lines[0].find("ID").unwrap();
        assert_eq!(&lines[1][id_column..id_column + 6], "CRIT-1");
        assert_eq!(lines[4], "2 vulnerabilities, 1 informational warnings");
        assert_eq!(render_table(&[]), "No vulnerabilities found.\n");
    }
}
