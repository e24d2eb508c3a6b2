//! Properties of the masking parsers: values with quotes, backslashes, tabs and newlines
//! survive exactly, and arbitrary bytes never make a parser panic.

use privacy::mask::{Format, MaskingKey, MaskingRules, mask_stream};
use proptest::prelude::*;

fn key() -> MaskingKey {
    MaskingKey::from_file_bytes(&(1u8..=32).collect::<Vec<_>>()).unwrap()
}

/// Column `a` is kept (copied byte for byte); column `b` goes through decoding, a rule that
/// returns the value unchanged (a prefix longer than any value) and re-encoding.
fn rules(table: &str) -> MaskingRules {
    MaskingRules::from_toml(&format!(
        "[columns]\n\"{table}.a\" = {{ rule = \"keep\" }}\n\"{table}.b\" = {{ rule = \"generalise\", to = \"prefix\", keep = 100000 }}\n"
    ))
    .unwrap()
}

fn run(
    format: &Format,
    rules: &MaskingRules,
    input: &[u8],
) -> Result<Vec<u8>, privacy::mask::MaskError> {
    let mut out = Vec::new();
    mask_stream(format, rules, &key(), input, &mut out, &mut |_| {})?;
    Ok(out)
}

fn copy_encode(value: &str) -> String {
    let mut out = String::new();
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            other => out.push(other),
        }
    }
    out
}

fn csv_encode(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) || value.starts_with(' ') || value.ends_with(' ') {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

fn field_value() -> impl Strategy<Value = String> {
    // Letters, quotes, backslashes, separators, control characters and non-ASCII.
    proptest::string::string_regex("[a-z0-9 '\"\\\\\t\n\r,;()\u{8}\u{b}\u{c}é€\u{1F600}]{0,24}")
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn copy_values_survive_exactly(rows in proptest::collection::vec((field_value(), field_value()), 1..6)) {
        let mut input = String::from("SET standard_conforming_strings = on;\nCOPY public.t (a, b) FROM stdin;\n");
        for (a, b) in &rows {
            input.push_str(&format!("{}\t{}\n", copy_encode(a), copy_encode(b)));
        }
        input.push_str("\\.\n");
        let out = run(&Format::PostgresDump, &rules("public.t"), input.as_bytes()).unwrap();
        prop_assert_eq!(String::from_utf8(out).unwrap(), input);
    }

    #[test]
    fn insert_values_survive_exactly(rows in proptest::collection::vec((field_value(), field_value()), 1..4)) {
        let tuples: Vec<String> = rows.iter().map(|(a, b)| format!("('{}', '{}')", a.replace('\'', "''"), b.replace('\'', "''"))).collect();
        let input = format!("INSERT INTO public.t (a, b) VALUES {};\n", tuples.join(", "));
        let out = run(&Format::PostgresDump, &rules("public.t"), input.as_bytes()).unwrap();
        prop_assert_eq!(String::from_utf8(out).unwrap(), input);
    }

    #[test]
    fn csv_values_survive_exactly(rows in proptest::collection::vec((field_value(), field_value()), 1..6)) {
        let mut input = String::from("a,b\n");
        for (a, b) in &rows {
            input.push_str(&format!("{},{}\n", csv_encode(a), csv_encode(b)));
        }
        let out = run(&Format::Csv { table: "t".into() }, &rules("t"), input.as_bytes()).unwrap();
        prop_assert_eq!(String::from_utf8(out).unwrap(), input);
    }

    #[test]
    fn parsers_never_panic_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        for format in [Format::PostgresDump, Format::Csv { table: "t".into() }, Format::JsonLines { table: "t".into() }] {
            let _ = run(&format, &rules("t"), &bytes);
        }
    }

    #[test]
    fn parsers_never_panic_on_mangled_dumps(cut in 0usize..400, noise in proptest::collection::vec(any::<u8>(), 0..12)) {
        let base = b"COPY public.t (a, b) FROM stdin;\nx\\ty\t\\N\n1\t2\n\\.\nINSERT INTO public.t (a, b) VALUES ('x''y', E'z\\n'), (NULL, 1.5e3::numeric(10,2));\n";
        let mut input = base.to_vec();
        let at = cut.min(input.len());
        input.splice(at..at, noise);
        let _ = run(&Format::PostgresDump, &rules("public.t"), &input);
    }
}
