//! End-to-end masking of a realistic PostgreSQL plain dump, CSV and JSON Lines.

use privacy::fake::{FakeKind, Faker};
use privacy::key::RootKey;
use privacy::mask::{
    Format, MaskError, MaskingKey, MaskingRules, Progress, check_stream, mask_stream, mask_to_path,
};

const KEY_HEX: &str = "8f3a1c5e7b9d2f4a6c8e0b1d3f5a7c9e2b4d6f8a0c2e4b6d8f1a3c5e7b9d0f2a\n";

const DUMP: &str = r#"--
-- PostgreSQL database dump
--

SET statement_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;

CREATE TABLE public.customers (
    id integer NOT NULL,
    email text,
    full_name text,
    phone text,
    birth_date date,
    iban text,
    city text,
    notes text,
    created_at timestamp with time zone
);

CREATE TABLE public.orders (
    id integer NOT NULL,
    customer_email text,
    amount numeric(10,2),
    card_number text,
    shipped_on date,
    comment text
);

COPY public.customers (id, email, full_name, phone, birth_date, iban, city, notes, created_at) FROM stdin;
1	alice.martin@example.org	Alice Martin	+33 6 12 34 56 78	1980-05-12	FR14 2004 1010 0505 0001 3M02 606	Lyon	likes\ttabs and \\backslashes	2023-01-02 10:00:00+00
2	bob.obrien@example.net	Bob O'Brien	06 98 76 54 32	1975-11-30	GB82 WEST 1234 5698 7654 32	Zürich	line one\nline two	2023-02-03 11:30:00+00
3	zoe.unal@example.com	Zoë Ünal	\N	\N	\N	\N	\N	2023-03-04 12:00:00+00
4	\N	\N	\N	1990-02-28	\N	\N	octal \101 and hex \x42	2023-03-05 08:15:00+00
\.

--
-- Data for Name: orders; Type: TABLE DATA; Schema: public
--

INSERT INTO public.orders (id, customer_email, amount, card_number, shipped_on, comment) VALUES (10, 'alice.martin@example.org', 12.50, '4111 1111 1111 1111', '2023-04-01', 'first order; thanks!'), (11, 'bob.obrien@example.net', 99.00, '5555 5555 5555 4444', NULL, 'O''Brien asked for ''gift'' wrap');
INSERT INTO public.orders (id, customer_email, amount, card_number, shipped_on, comment) VALUES (12, 'zoe.unal@example.com', -3.5e2, NULL, '2023-05-06'::date, E'refund\nrequested by Zoë, tab:\there');
INSERT INTO public.orders (id, customer_email, amount, card_number, shipped_on, comment) VALUES (13, 'alice.martin@example.org', 0, '378282246310005', '2023-06-07', 'multi
line comment');

SELECT pg_catalog.setval('public.orders_id_seq', 13, true);
"#;

const RULES: &str = r#"
[settings]
sample_rows = 50

[columns]
"public.customers.id" = { rule = "keep" }
"public.customers.email" = { rule = "fake", kind = "email" }
"public.customers.full_name" = { rule = "fake", kind = "name" }
"public.customers.phone" = { rule = "ff1", format = "phone", keep_leading = 2 }
"public.customers.birth_date" = { rule = "date_shift", max_days = 30 }
"public.customers.iban" = { rule = "ff1", format = "iban", fix_checksum = true }
"public.customers.city" = { rule = "fake", kind = "city" }
"public.customers.notes" = { rule = "redact", value = "[notes removed]" }
"public.customers.created_at" = { rule = "keep" }
"orders.id" = { rule = "keep" }
"orders.customer_email" = { rule = "fake", kind = "email" }
"orders.amount" = { rule = "generalise", to = "bucket", width = 100 }
"orders.card_number" = { rule = "ff1", format = "card", keep_leading = 6, fix_checksum = true }
"orders.comment" = { rule = "hmac", domain = "comments", length = 24 }
"#;

fn key() -> MaskingKey {
    MaskingKey::from_file_bytes(KEY_HEX.as_bytes()).unwrap()
}

fn run(
    format: &Format,
    rules: &str,
    input: &str,
) -> Result<(String, privacy::mask::Summary), MaskError> {
    let rules = MaskingRules::from_toml(rules).unwrap();
    let mut out = Vec::new();
    let summary = mask_stream(format, &rules, &key(), input.as_bytes(), &mut out, &mut |_| {})?;
    Ok((String::from_utf8(out).unwrap(), summary))
}

fn dump(input: &str) -> Result<String, MaskError> {
    run(&Format::PostgresDump, RULES, input).map(|(out, _)| out)
}

const PERSONAL_VALUES: &[&str] = &[
    "alice.martin@example.org",
    "bob.obrien@example.net",
    "zoe.unal@example.com",
    "Alice Martin",
    "O'Brien",
    "O''Brien",
    "Zoë Ünal",
    "+33 6 12 34 56 78",
    "06 98 76 54 32",
    "1980-05-12",
    "1975-11-30",
    "1990-02-28",
    "FR14 2004 1010 0505 0001 3M02 606",
    "GB82 WEST 1234 5698 7654 32",
    "Lyon",
    "Zürich",
    "likes",
    "backslashes",
    "line one",
    "octal",
    "4111 1111 1111 1111",
    "5555 5555 5555 4444",
    "378282246310005",
    "first order",
    "gift",
    "refund",
    "multi",
];

#[test]
fn no_original_personal_value_survives() {
    let out = dump(DUMP).unwrap();
    for value in PERSONAL_VALUES {
        assert!(!out.contains(value), "{value:?} survived in:\n{out}");
    }
    // What is not personal passes through unchanged.
    for kept in [
        "CREATE TABLE public.orders (",
        "SET standard_conforming_strings = on;",
        "2023-01-02 10:00:00+00",
        "SELECT pg_catalog.setval('public.orders_id_seq', 13, true);",
        "'2023-05-06'::date",
        "\\N",
    ] {
        assert!(out.contains(kept), "{kept:?} missing");
    }
    // The multi-line comment became a single-line pseudonym: one line fewer.
    assert_eq!(out.lines().count(), DUMP.lines().count() - 1);
}

#[test]
fn joins_still_match_across_tables() {
    let out = dump(DUMP).unwrap();
    let faker = Faker::new(&RootKey::from_file_bytes(KEY_HEX.as_bytes()).unwrap());
    let alice = faker.fake(FakeKind::Email, "alice.martin@example.org");
    // Once in customers (COPY), twice in orders (INSERT).
    assert_eq!(out.matches(&format!("\t{alice}\t")).count(), 1, "{out}");
    assert_eq!(out.matches(&format!("'{alice}'")).count(), 2, "{out}");
    let zoe = faker.fake(FakeKind::Email, "zoe.unal@example.com");
    assert!(out.contains(&format!("\t{zoe}\t")) && out.contains(&format!("'{zoe}'")));
}

#[test]
fn two_runs_with_one_key_are_byte_identical_and_another_key_differs() {
    assert_eq!(dump(DUMP).unwrap(), dump(DUMP).unwrap());
    let rules = MaskingRules::from_toml(RULES).unwrap();
    let other =
        MaskingKey::from_file_bytes(&[7u8; 31].iter().chain(&[8]).copied().collect::<Vec<_>>())
            .unwrap();
    let mut out = Vec::new();
    mask_stream(&Format::PostgresDump, &rules, &other, DUMP.as_bytes(), &mut out, &mut |_| {})
        .unwrap();
    assert_ne!(String::from_utf8(out).unwrap(), dump(DUMP).unwrap());
}

#[test]
fn masked_values_keep_their_format() {
    let out = dump(DUMP).unwrap();
    let row1 = out.lines().find(|l| l.starts_with("1\t")).unwrap();
    let fields: Vec<&str> = row1.split('\t').collect();
    assert_eq!(fields.len(), 9);
    assert!(
        fields[3].starts_with("+33 ") && fields[3].len() == "+33 6 12 34 56 78".len(),
        "{}",
        fields[3]
    );
    assert!(privacy::pii::validate_iban(fields[5].as_bytes()), "{}", fields[5]);
    assert_eq!(fields[7], "[notes removed]");
    let shifted =
        time::Date::parse(fields[4], time::macros::format_description!("[year]-[month]-[day]"))
            .unwrap();
    let original = time::macros::date!(1980 - 05 - 12);
    let days = (shifted - original).whole_days();
    assert!(days != 0 && days.abs() <= 30, "{days}");
    // Amounts are bucketed, nulls stay null.
    assert!(out.contains("(10, '") && out.contains(", '0', '4111 11"), "{out}");
    assert!(out.contains(", '-400', NULL, '2023-05-06'::date"), "{out}");
    let row3 = out.lines().find(|l| l.starts_with("3\t")).unwrap();
    assert_eq!(row3.matches("\\N").count(), 5);
}

#[test]
fn summary_and_progress() {
    let rules = MaskingRules::from_toml(RULES).unwrap();
    let mut calls: Vec<Progress> = Vec::new();
    let summary = mask_stream(
        &Format::PostgresDump,
        &rules,
        &key(),
        DUMP.as_bytes(),
        &mut Vec::new(),
        &mut |p| calls.push(p),
    )
    .unwrap();
    assert_eq!(summary.rows, 8);
    assert_eq!(summary.bytes, DUMP.len() as u64);
    assert_eq!(calls.last(), Some(&Progress { rows: 8, bytes: DUMP.len() as u64 }));
    let email = summary
        .columns
        .iter()
        .find(|c| c.table == "public.customers" && c.column == "email")
        .unwrap();
    assert_eq!((email.rule.as_str(), email.values, email.masked, email.nulls), ("fake", 4, 3, 1));
    let shipped = summary.columns.iter().find(|c| c.column == "shipped_on").unwrap();
    assert_eq!(shipped.rule, "unruled, kept");
    assert!(summary.personal_columns_without_rule.is_empty());
    assert!(summary.unused_rules.is_empty(), "{:?}", summary.unused_rules);
}

#[test]
fn personal_column_without_rule_fails_and_leaves_no_file() {
    let rules_text =
        RULES.replace("\"public.customers.email\" = { rule = \"fake\", kind = \"email\" }\n", "");
    let rules = MaskingRules::from_toml(&rules_text).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let destination = dir.path().join("test.sql");
    let err = mask_to_path(
        &Format::PostgresDump,
        &rules,
        &key(),
        DUMP.as_bytes(),
        &destination,
        &mut |_| {},
    )
    .unwrap_err();
    let MaskError::PersonalColumns(columns) = &err else { panic!("{err}") };
    assert_eq!(columns.len(), 1);
    assert_eq!(
        (columns[0].table.as_str(), columns[0].column.as_str()),
        ("public.customers", "email")
    );
    assert_eq!(columns[0].verdict.evidence[0].kind, privacy::pii::PiiKind::Email);
    assert_eq!(columns[0].verdict.evidence[0].samples, 3);
    let message = err.to_string();
    assert!(message.contains("public.customers.email") && !message.contains("alice"), "{message}");
    assert!(!destination.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "a temporary file was left behind"
    );
}

#[test]
fn successful_run_writes_the_destination() {
    let rules = MaskingRules::from_toml(RULES).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let destination = dir.path().join("test.sql");
    mask_to_path(&Format::PostgresDump, &rules, &key(), DUMP.as_bytes(), &destination, &mut |_| {})
        .unwrap();
    assert_eq!(std::fs::read_to_string(&destination).unwrap(), dump(DUMP).unwrap());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn spooled_output_is_empty_on_failure() {
    let rules = MaskingRules::from_toml(RULES).unwrap();
    let broken = DUMP.replace("\\.\n", "");
    let mut out = Vec::new();
    let result = privacy::mask::mask_to_writer_spooled(
        &Format::PostgresDump,
        &rules,
        &key(),
        broken.as_bytes(),
        &mut out,
        None,
        &mut |_| {},
    );
    assert!(result.is_err());
    assert!(out.is_empty());
}

#[test]
fn check_mode_reports_without_failing() {
    let rules_text = RULES.replace("\"public.customers.email\" = { rule = \"fake\", kind = \"email\" }\n", "")
        .replace("\"orders.card_number\" = { rule = \"ff1\", format = \"card\", keep_leading = 6, fix_checksum = true }\n", "");
    let rules = MaskingRules::from_toml(&rules_text).unwrap();
    let summary =
        check_stream(&Format::PostgresDump, &rules, &key(), DUMP.as_bytes(), &mut |_| {}).unwrap();
    let flagged: Vec<String> = summary
        .personal_columns_without_rule
        .iter()
        .map(|p| format!("{}.{}", p.table, p.column))
        .collect();
    assert_eq!(flagged, vec!["public.customers.email", "public.orders.card_number"]);
}

fn error_line(input: &str) -> (u64, String) {
    match dump(input) {
        Err(MaskError::Parse { line, message }) => (line, message),
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn bad_input_fails_with_the_line() {
    let line_of = |needle: &str| DUMP.lines().position(|l| l.contains(needle)).unwrap() as u64 + 1;
    // Unterminated string literal running to the end of the input.
    let input = DUMP.replace("line comment');", "line comment);");
    let (line, message) = error_line(&input);
    assert_eq!(line, line_of("(13, 'alice"));
    assert!(message.contains("unterminated string"), "{message}");
    // An unbalanced quote inside the dump is caught where the statement stops parsing.
    let input = DUMP.replace("'first order; thanks!')", "'first order; thanks!)");
    let (line, _) = error_line(&input);
    assert!(line >= line_of("'first order; thanks!'"));
    // Value count mismatch in an INSERT.
    let input = DUMP.replace("(12, 'zoe.unal@example.com', ", "(12, ");
    let (line, message) = error_line(&input);
    assert_eq!(line, line_of("(12, 'zoe"));
    assert!(message.contains("5 values for 6 columns"), "{message}");
    // Field count mismatch in a COPY row.
    let input = DUMP.replace("3\tzoe.unal@example.com\t", "3\t");
    let (line, message) = error_line(&input);
    assert_eq!(line, line_of("Zoë Ünal\t"));
    assert!(message.contains("8 fields"), "{message}");
    // Unsupported COPY formats.
    for form in ["FROM stdin WITH (FORMAT binary);", "FROM stdin WITH CSV;", "FROM stdin BINARY;"] {
        let input = DUMP.replace("created_at) FROM stdin;", &format!("created_at) {form}"));
        let (line, message) = error_line(&input);
        assert_eq!(line, line_of("COPY public.customers"));
        assert!(message.contains("unsupported COPY form"), "{message}");
    }
    // COPY block cut short by the end of the input.
    let truncated = &DUMP[..DUMP.find("\\.\n").unwrap()];
    let (line, message) = error_line(truncated);
    assert_eq!(line, line_of("COPY public.customers"));
    assert!(message.contains("not terminated"), "{message}");
    // COPY block without its terminator: the next line is read as a row and does not fit.
    let (line, message) = error_line(&DUMP.replace("\\.\n", ""));
    assert_eq!(line, line_of("1990-02-28") + 1);
    assert!(message.contains("1 fields"), "{message}");
    // Custom-format archive.
    let (line, message) = error_line("PGDMP\x01\x0e\x00binary");
    assert_eq!(line, 1);
    assert!(message.contains("custom-format"), "{message}");
    // INSERT without a column list.
    let (_, message) = error_line("INSERT INTO public.orders VALUES (1, 'x');\n");
    assert!(message.contains("--column-inserts"), "{message}");
}

#[test]
fn values_a_rule_cannot_mask_name_the_column_not_the_value() {
    let input = DUMP.replace("1980-05-12", "12/05/1980");
    match dump(&input) {
        Err(MaskError::Value { line, table, column, rule, reason }) => {
            assert_eq!(
                (table.as_str(), column.as_str(), rule.as_str()),
                ("public.customers", "birth_date", "date_shift")
            );
            assert_eq!(line, DUMP.lines().position(|l| l.starts_with("1\t")).unwrap() as u64 + 1);
            assert!(!reason.contains("1980"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn csv_with_quotes_and_embedded_newlines() {
    let input = "id,email,comment,city\r\n1,alice.martin@example.org,\"says \"\"hi\"\",\nthen leaves\",Lyon\r\n2,bob.obrien@example.net,,Paris\r\n";
    let rules = r#"
[columns]
"people.id" = { rule = "keep" }
"people.email" = { rule = "fake", kind = "email" }
"people.comment" = { rule = "redact", value = "x, \"quoted\"" }
"#;
    let (out, summary) = run(&Format::Csv { table: "people".into() }, rules, input).unwrap();
    assert!(!out.contains("alice") && !out.contains("says"), "{out}");
    assert!(out.contains(",\"x, \"\"quoted\"\"\","), "{out}");
    assert!(out.starts_with("id,email,comment,city\r\n"));
    assert!(out.contains("Lyon\r\n") && out.contains("Paris\r\n"));
    assert_eq!(summary.rows, 2);
    let city = summary.columns.iter().find(|c| c.column == "city").unwrap();
    assert_eq!(city.rule, "unruled, kept");
    let err =
        run(&Format::Csv { table: "people".into() }, rules, "id,email\n1,\"open\n").unwrap_err();
    assert!(matches!(err, MaskError::Parse { line: 2, .. }), "{err}");
}

#[test]
fn json_lines_by_dotted_path() {
    let input = "{\"id\":1,\"user\":{\"email\":\"alice.martin@example.org\",\"age\":37},\"tags\":[\"a\"]}\n{\"id\":2,\"user\":{\"email\":null,\"age\":61},\"tags\":[]}\n\n";
    let rules = r#"
[columns]
"events.id" = { rule = "keep" }
"events.user.email" = { rule = "hmac", domain = "people" }
"events.user.age" = { rule = "generalise", to = "bucket", width = 10 }
"events.tags" = { rule = "keep" }
"#;
    let (out, _) = run(&Format::JsonLines { table: "events".into() }, rules, input).unwrap();
    let lines: Vec<serde_json::Value> =
        out.lines().filter(|l| !l.is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["user"]["age"], serde_json::json!(30));
    assert_eq!(lines[1]["user"]["age"], serde_json::json!(60));
    assert_eq!(lines[1]["user"]["email"], serde_json::Value::Null);
    let pseudonym = lines[0]["user"]["email"].as_str().unwrap();
    assert_eq!(pseudonym.len(), 16);
    assert!(!out.contains("alice"));
    let err = run(&Format::JsonLines { table: "events".into() }, rules, "{\"id\":1}\n{\"id\":\n")
        .unwrap_err();
    assert!(matches!(err, MaskError::Parse { line: 2, .. }), "{err}");
}

#[test]
fn short_or_wrong_key_files_are_refused() {
    assert!(matches!(MaskingKey::from_file_bytes(&[1u8; 16]), Err(MaskError::Key(_))));
    assert!(matches!(MaskingKey::from_file_bytes(b"not a key\n"), Err(MaskError::Key(_))));
}

#[test]
fn kept_tables_are_counted_and_copied_byte_for_byte() {
    let input = "COPY public.t (a, b) FROM stdin;\n1\tx\\ty\n2\t\\N\n\\.\n";
    let rules =
        "[columns]\n\"public.t.a\" = { rule = \"keep\" }\n\"public.t.b\" = { rule = \"keep\" }\n";
    let (out, summary) = run(&Format::PostgresDump, rules, input).unwrap();
    assert_eq!(out, input);
    let b = summary.columns.iter().find(|c| c.column == "b").unwrap();
    assert_eq!((b.values, b.masked, b.nulls), (2, 0, 1));
}

#[test]
fn statements_inside_function_bodies_are_not_data() {
    let body = "CREATE FUNCTION public.log_order() RETURNS trigger\n    LANGUAGE plpgsql\n    AS $_$\nBEGIN\nINSERT INTO public.audit (what) VALUES (NEW.id);\nCOPY public.audit FROM stdin;\nRETURN NEW;\nEND;\n$_$;\n\nDO $$ BEGIN PERFORM 1; END $$;\n";
    let input = format!("{body}{DUMP}");
    let out = dump(&input).unwrap();
    assert!(out.starts_with(body), "the function body changed");
    assert!(!out.contains("alice.martin@example.org"));
}

#[test]
fn per_row_date_shift_keeps_intervals_of_one_entity() {
    let input = "{\"patient\":\"p-17\",\"visit\":\"2024-03-01\",\"next\":\"2024-03-15\"}\n{\"patient\":\"p-17\",\"visit\":\"2024-05-10\",\"next\":\"2024-05-11\"}\n{\"patient\":\"p-99\",\"visit\":\"2024-03-01\",\"next\":\"2024-03-15\"}\n";
    let rules = r#"
[columns]
"visits.patient" = { rule = "hmac", domain = "patients" }
"visits.visit" = { rule = "date_shift", max_days = 200, per = "row", row_key = "patient" }
"visits.next" = { rule = "date_shift", max_days = 200, per = "row", row_key = "patient" }
"#;
    let (out, _) = run(&Format::JsonLines { table: "visits".into() }, rules, input).unwrap();
    let rows: Vec<serde_json::Value> =
        out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let date = |v: &serde_json::Value, f: &str| {
        time::Date::parse(
            v[f].as_str().unwrap(),
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .unwrap()
    };
    let shift =
        |i: usize| (date(&rows[i], "visit") - time::macros::date!(2024 - 03 - 01)).whole_days();
    // Intervals within a row are kept.
    assert_eq!((date(&rows[0], "next") - date(&rows[0], "visit")).whole_days(), 14);
    assert_eq!((date(&rows[1], "next") - date(&rows[1], "visit")).whole_days(), 1);
    // One patient, one shift; another patient (almost surely) another shift.
    assert_eq!(
        (date(&rows[1], "visit") - time::macros::date!(2024 - 05 - 10)).whole_days(),
        shift(0)
    );
    assert_ne!(shift(0), 0);
    assert_ne!(shift(0), shift(2));
}
