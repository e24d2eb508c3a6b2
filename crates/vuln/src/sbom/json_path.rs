//! Typed access to JSON values that reports the element path of anything malformed.

use serde_json::Value;

use super::{SbomError, SbomFormat};

/// A JSON value together with its path from the document root.
#[derive(Clone, Copy)]
pub(crate) struct At<'a, 'p> {
    pub value: &'a Value,
    pub path: &'p str,
    pub format: SbomFormat,
}

pub(crate) fn parse_json(bytes: &[u8], format: SbomFormat) -> Result<Value, SbomError> {
    serde_json::from_slice(bytes).map_err(|e| {
        SbomError::new(format, format!("line {}, column {}", e.line(), e.column()), e.to_string())
    })
}

pub(crate) fn child_path(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

impl<'a> At<'a, '_> {
    fn error(&self, path: String, message: impl Into<String>) -> SbomError {
        SbomError::new(self.format, path, message)
    }

    /// An optional string member: absent or `null` is `None`, another type is an error.
    pub fn opt_str(&self, key: &str) -> Result<Option<&'a str>, SbomError> {
        match self.value.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.error(
                child_path(self.path, key),
                format!("expected a string, found {}", kind(other)),
            )),
        }
    }

    /// An optional array member: absent or `null` is empty, another type is an error.
    pub fn opt_array(&self, key: &str) -> Result<&'a [Value], SbomError> {
        match self.value.get(key) {
            None | Some(Value::Null) => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(other) => Err(self.error(
                child_path(self.path, key),
                format!("expected an array, found {}", kind(other)),
            )),
        }
    }

    pub fn require_object(&self) -> Result<(), SbomError> {
        if self.value.is_object() {
            Ok(())
        } else {
            Err(self.error(
                self.path.to_owned(),
                format!("expected an object, found {}", kind(self.value)),
            ))
        }
    }
}

pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
