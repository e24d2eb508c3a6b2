//! JSON Lines: one JSON object per line; fields are addressed by dotted path
//! (`customer.address.city`); arrays are transparent (`items.email` is the `email` of every
//! element of `items`). A line in which nothing changes is copied byte for byte; a line with a
//! masked field is written back as compact JSON (object keys in sorted order).

use std::collections::HashMap;
use std::io::{BufRead, Write};

use serde_json::Value;

use super::engine::{Masked, Masker, TablePlan};
use super::rules::{Rule, ShiftPer};
use super::{MaskError, Tracker};

struct Context<'a> {
    masker: &'a mut Masker,
    table: &'a str,
    plans: HashMap<String, TablePlan>,
    out: String,
    line: u64,
    needs_row: bool,
}

pub(crate) fn mask_jsonl<R: BufRead, W: Write>(
    masker: &mut Masker,
    table: &str,
    mut reader: R,
    writer: &mut W,
    tracker: &mut Tracker<'_>,
) -> Result<(), MaskError> {
    let mut line = Vec::with_capacity(4096);
    let needs_row = masker
        .rules()
        .columns
        .values()
        .any(|r| matches!(r, Rule::DateShift { per: ShiftPer::Row, .. }));
    let mut cx =
        Context { masker, table, plans: HashMap::new(), out: String::new(), line: 0, needs_row };
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(());
        }
        cx.line += 1;
        tracker.bytes += n as u64;
        let content_end =
            line.iter().rposition(|b| !b.is_ascii_whitespace()).map(|p| p + 1).unwrap_or(0);
        if content_end == 0 {
            writer.write_all(&line)?;
            continue;
        }
        tracker.row();
        let mut value: Value = serde_json::from_slice(&line[..content_end])
            .map_err(|e| MaskError::parse(cx.line, format!("invalid JSON: {e}")))?;
        let Value::Object(_) = &value else {
            return Err(MaskError::parse(cx.line, "a JSON Lines record must be an object"));
        };
        // A per-row date shift reads another field of the record: keep the original record
        // aside only when a rule of this table needs it.
        let root = if cx.needs_row { value.clone() } else { Value::Null };
        let mut path = String::new();
        let changed = walk(&mut cx, &root, &mut value, &mut path)?;
        if changed {
            serde_json::to_writer(&mut *writer, &value)
                .map_err(|e| MaskError::parse(cx.line, format!("cannot write JSON: {e}")))?;
            writer.write_all(&line[content_end..])?;
        } else {
            writer.write_all(&line)?;
        }
    }
}

fn walk(
    cx: &mut Context<'_>,
    root: &Value,
    value: &mut Value,
    path: &mut String,
) -> Result<bool, MaskError> {
    match value {
        Value::Object(map) => {
            let mut changed = false;
            for (key, child) in map.iter_mut() {
                let before = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                changed |= walk(cx, root, child, path)?;
                path.truncate(before);
            }
            Ok(changed)
        }
        Value::Array(items) => {
            let mut changed = false;
            for item in items.iter_mut() {
                changed |= walk(cx, root, item, path)?;
            }
            Ok(changed)
        }
        leaf => leaf_value(cx, root, leaf, path),
    }
}

fn leaf_value(
    cx: &mut Context<'_>,
    root: &Value,
    leaf: &mut Value,
    path: &str,
) -> Result<bool, MaskError> {
    if !cx.plans.contains_key(path) {
        let mut columns = vec![path.to_owned()];
        if let Some((_, Rule::DateShift { per: ShiftPer::Row, row_key: Some(key), .. })) =
            cx.masker.rules().lookup(cx.table, path)
        {
            columns.push(key.clone());
        }
        let plan = cx.masker.plan(cx.table, &columns, cx.line)?;
        cx.plans.insert(path.to_owned(), plan);
    }
    let Some(plan) = cx.plans.get(path) else { return Ok(false) };
    let text: Option<String> = match leaf {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(_) | Value::Object(_) => return Ok(false),
    };
    let row_key = if plan.columns.len() > 1 {
        let key_path = cx.masker.rules().lookup(cx.table, path).and_then(|(_, r)| match r {
            Rule::DateShift { row_key: Some(k), .. } => Some(k.clone()),
            _ => None,
        });
        key_path.and_then(|k| lookup_path(root, &k)).and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        })
    } else {
        None
    };
    let outcome =
        cx.masker.mask(plan, 0, text.as_deref(), row_key.as_deref(), cx.line, &mut cx.out)?;
    match outcome {
        Masked::Unchanged => Ok(false),
        Masked::Null => {
            *leaf = Value::Null;
            Ok(true)
        }
        Masked::Text => {
            let keep_number = matches!(leaf, Value::Number(_));
            *leaf = match serde_json::from_str::<serde_json::Number>(&cx.out) {
                Ok(n) if keep_number => Value::Number(n),
                _ => Value::String(cx.out.clone()),
            };
            Ok(true)
        }
    }
}

fn lookup_path<'v>(root: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(root, |v, key| v.get(key))
}
